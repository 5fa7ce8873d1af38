"""Browser test of the operator console, run by scripts/browser-test.

Starts `ferry serve` (the given binary) on 127.0.0.1 with a temporary SQLite folder, makes an
admin token and a token of space `notes` with the CLI, and drives headless Chromium:

- /console shows the sign-in form, and /admin answers 401 without a token;
- signing in with the admin token shows the console, and keeps the token out of the URL;
- a test client pushes and pulls over HTTP; the space, its devices (with cursor and lag) and a
  conflict appear within a bounded wait, a device id that looks like HTML is shown as text;
- the Revoke button (clicked twice: revoke, confirm) revokes the space token's grant, and that
  token then gets 401;
- a screenshot goes to OUTPUT/console.png.

The server and the browser are always stopped. Exits non-zero on the first failed check.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

WAIT_SECONDS = 20


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def http(base, method, path, token=None, body=None):
    """(status, parsed JSON or None) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, json.loads(text) if text else None


def token_create(ferry, data, *args):
    out = subprocess.run([ferry, "token", "create", "--data", data, "--json", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def start_server(ferry, data, log_path):
    log = open(log_path, "w")
    server = subprocess.Popen(
        [ferry, "serve", "--data", data, "--host", "127.0.0.1", "--port", "0", "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log_path) as read:
            match = re.search(r"Ferry listening on http://127\.0\.0\.1:(\d+)", read.read())
        if match:
            return server, "http://127.0.0.1:" + match.group(1)
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    with open(log_path) as read:
        raise AssertionError("ferry serve did not start:\n" + read.read())


def wait_for(description, probe):
    """Polls `probe` until it answers something true, at most WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as error:  # a stale element while the page re-renders
            last_error = error
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {description}" + (f" (last error: {last_error})" if last_error else ""))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ferry", required=True)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--chromedriver", required=True)
    parser.add_argument("--output", required=True)
    arguments = parser.parse_args()

    work = tempfile.mkdtemp(prefix="ferry-browser-")
    data = os.path.join(work, "data")
    server = None
    driver = None
    started = time.monotonic()
    try:
        admin = token_create(arguments.ferry, data, "--admin")["access_token"]
        notes = token_create(arguments.ferry, data, "--space", "notes")
        server, base = start_server(arguments.ferry, data, os.path.join(work, "server.log"))
        print(f"console_test: ferry serve at {base}")

        status, _ = http(base, "GET", "/admin/spaces")
        check(status == 401, f"GET /admin/spaces without a token answered {status}, not 401")
        status, _ = http(base, "GET", "/admin/health", token=notes["access_token"])
        check(status == 403, f"GET /admin/health with a space token answered {status}, not 403")

        options = webdriver.ChromeOptions()
        options.binary_location = arguments.chromium
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1700"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=arguments.chromedriver), options=options)
        driver.set_page_load_timeout(30)

        driver.get(base + "/console")
        form = driver.find_element(By.ID, "signin-form")
        check(form.is_displayed(), "the sign-in form is not shown")
        check(not driver.find_element(By.ID, "console").is_displayed(), "the console is shown before signing in")

        # A wrong token is refused and the form stays.
        driver.find_element(By.ID, "token-input").send_keys(notes["access_token"])
        driver.find_element(By.ID, "signin-button").click()
        wait_for("the refusal of a space token", lambda: driver.find_element(By.ID, "signin-error").text)
        check(driver.find_element(By.ID, "signin-form").is_displayed(), "the sign-in form left after a refused token")

        driver.find_element(By.ID, "token-input").send_keys(admin)
        driver.find_element(By.ID, "signin-button").click()
        wait_for("the console after signing in", lambda: driver.find_element(By.ID, "console").is_displayed())
        check(admin not in driver.current_url, "the token is in the URL")
        stored = driver.execute_script("return sessionStorage.getItem('ferry.adminToken')")
        check(stored == admin, "the token is not in sessionStorage")
        check(driver.execute_script("return localStorage.length") == 0, "something was put in localStorage")
        wait_for("the storage kind", lambda: "sqlite" in driver.find_element(By.ID, "health").text)

        # A test client writes: device dev-a pushes, a device whose id looks like HTML pulls and
        # writes the same record on an old version (a conflict).
        odd = "<b>odd</b>"
        token = notes["access_token"]
        push = {"space": "notes", "device_id": "dev-a", "session_id": "s", "mutations": [
            {"client_action_id": 1, "entity": "note", "entity_key": "n1", "op": "upsert", "payload": {"title": "hi"}, "base_seq": 0},
            {"client_action_id": 2, "entity": "note", "entity_key": "n2", "op": "upsert", "payload": {"title": "ho"}}]}
        status, answer = http(base, "POST", "/sync/mutations/push", token=token, body=push)
        check(status == 200 and answer["accepted"] == 2, f"push answered {status} {answer}")
        status, _ = http(base, "GET", "/sync/mutations/pull?space=notes&since_seq=0&exclude_device=%3Cb%3Eodd%3C%2Fb%3E", token=token)
        check(status == 200, f"pull answered {status}")
        conflict = {"space": "notes", "device_id": "dev-a2", "session_id": "s", "mutations": [
            {"client_action_id": 1, "entity": "note", "entity_key": "n1", "op": "patch", "payload": {"title": "x"}, "base_seq": 0}]}
        status, answer = http(base, "POST", "/sync/mutations/push", token=token, body=conflict)
        check(status == 200 and len(answer["conflicts"]) == 1, f"the conflicting push answered {status} {answer}")

        ack = {"space": "notes", "device_id": "dev-a", "acks": ["note|2"]}
        status, _ = http(base, "POST", "/sync/ack", token=token, body=ack)
        check(status == 204, f"ack answered {status}")

        row = wait_for(
            "space notes in the table",
            lambda: driver.find_elements(By.CSS_SELECTOR, '#spaces-body tr[data-space="notes"]'),
        )[0]
        wait_for("head 3 of space notes", lambda: driver.find_element(By.CSS_SELECTOR, '#spaces-body tr[data-space="notes"] td:nth-child(2)').text == "3")
        device = wait_for("device dev-a", lambda: driver.find_elements(By.CSS_SELECTOR, '#devices-body tr[data-device="dev-a"]'))
        check(device, "device dev-a is not listed")

        def odd_row():
            for candidate in driver.find_elements(By.CSS_SELECTOR, "#devices-body tr"):
                cells = candidate.find_elements(By.TAG_NAME, "td")
                if cells and cells[0].text == odd:
                    return cells
            return None

        cells = wait_for("the device with an HTML-looking id, as text", odd_row)
        check(cells[4].text == "2" and cells[5].text == "1", f"cursor and lag of the pulling device: {[c.text for c in cells]}")
        check(not driver.find_elements(By.CSS_SELECTOR, "#devices-body b"), "a device id was inserted as HTML")
        wait_for("the checkpoint of dev-a", lambda: "note" in driver.find_element(By.ID, "checkpoints-body").text)
        wait_for("the conflict", lambda: "note/n1" in driver.find_element(By.ID, "conflicts-body").text)
        check(row is not None, "no row")

        # Revoke the space token's grant with its button: revoke, then confirm.
        grant = notes["grant_id"]
        selector = f'#tokens-body button.revoke[data-grant="{grant}"]'

        def click(css):
            """Clicks the element `css` names, if there is one (retried by wait_for while the
            table is rebuilt under it)."""
            found = driver.find_elements(By.CSS_SELECTOR, css)
            if found:
                found[0].click()
                return True
            return False

        wait_for("a click on the revoke button", lambda: click(selector + ":not(.confirm)"))
        wait_for("a click on the confirm button", lambda: click(selector + ".confirm"))
        wait_for("the grant shown revoked", lambda: not driver.find_elements(By.CSS_SELECTOR, selector)
                 and "revoked" in driver.find_element(By.CSS_SELECTOR, f'#tokens-body tr[data-grant="{grant}"]').text)
        status, _ = http(base, "POST", "/sync/mutations/push", token=token, body=push)
        check(status == 401, f"the revoked token got {status}, not 401")
        status, grants = http(base, "GET", "/admin/tokens", token=admin)
        check(any(g["id"] == grant and g.get("revoked_at") for g in grants["grants"]), "the grant is not revoked in /admin/tokens")

        os.makedirs(arguments.output, exist_ok=True)
        screenshot = os.path.join(arguments.output, "console.png")
        driver.save_screenshot(screenshot)

        # Signing out forgets the token.
        driver.find_element(By.ID, "signout").click()
        check(driver.execute_script("return sessionStorage.getItem('ferry.adminToken')") is None, "the token outlived sign-out")
        print(f"console_test: passed in {time.monotonic() - started:.1f} s; screenshot at {screenshot}")
        return 0
    except AssertionError as error:
        print(f"console_test: FAILED: {error}", file=sys.stderr)
        if driver is not None:
            try:
                os.makedirs(arguments.output, exist_ok=True)
                driver.save_screenshot(os.path.join(arguments.output, "failure.png"))
            except Exception:
                pass
        return 1
    finally:
        if driver is not None:
            driver.quit()
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
