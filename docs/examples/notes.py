#!/usr/bin/env python3
"""A notes app that syncs through Ferry, with nothing but Python's sqlite3 module.

    python3 notes.py APP.sqlite init           # create the table (once per device)
    python3 notes.py APP.sqlite add TITLE      # write a note; prints its id
    python3 notes.py APP.sqlite done ID        # mark a note done
    python3 notes.py APP.sqlite delete ID
    python3 notes.py APP.sqlite list           # one note a line: id, done, title

Beside it, Ferry runs as a sidecar (see docs/sidecar.md):

    ferry track --db APP.sqlite notes
    ferry sync --db APP.sqlite --server URL --space notes --token TOKEN --watch --live

The app knows nothing of Ferry: the triggers `ferry track` made capture its writes, and
`ferry sync --watch` notices its commits and pushes them. Ids are random UUIDs, never
AUTOINCREMENT integers, so that two devices never pick the same key.

docs/sidecar.md shows this file, and Ferry's tests run it (SidecarTests).
"""
import sqlite3
import sys
import uuid


def connect(path):
    # The timeout waits for Ferry's own short transactions instead of failing at once.
    db = sqlite3.connect(path, timeout=10)
    # WAL lets the app read while Ferry writes, and Ferry read while the app writes.
    db.execute("PRAGMA journal_mode = WAL")
    return db


def main(path, command, *args):
    db = connect(path)
    with db:  # one transaction, committed at the end of the block
        if command == "init":
            db.execute(
                "CREATE TABLE IF NOT EXISTS notes ("
                " id TEXT PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)"
            )
        elif command == "add":
            note_id = str(uuid.uuid4())
            db.execute("INSERT INTO notes (id, title) VALUES (?, ?)", (note_id, args[0]))
            print(note_id)
        elif command == "done":
            db.execute("UPDATE notes SET done = 1 WHERE id = ?", (args[0],))
        elif command == "delete":
            db.execute("DELETE FROM notes WHERE id = ?", (args[0],))
        elif command == "list":
            for note_id, done, title in db.execute("SELECT id, done, title FROM notes ORDER BY title, id"):
                print(f"{note_id}\t{done}\t{title}")
        else:
            sys.exit(f"unknown command {command}")
    db.close()


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], *sys.argv[3:])
