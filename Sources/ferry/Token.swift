import ArgumentParser
import FerryCore
import FerryServer
import Foundation

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke access tokens.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an access token and a refresh token for one or more spaces, or an admin token.",
            discussion: """
                A token may name spaces that have no log yet: the first push to a space creates its log.
                With --admin, the token reaches the /admin API (issue, list and revoke tokens) and no space:
                for an app's backend that issues device tokens after its own sign-in.
                """
        )

        /// The default lifetime of an access token: one day.
        static let defaultTTL: Int64 = 86_400

        @OptionGroup var storage: StorageOptions

        @Option(name: .long, help: "A space the token may read and write; repeat for more.")
        var space: [String] = []

        @Option(name: .long, help: "The access token's lifetime in seconds (default 86400).")
        var ttl: Int64 = Create.defaultTTL

        @Flag(name: .long, help: "Create an admin token: the /admin API, and no space (takes no --space).")
        var admin = false

        @Flag(name: .long, help: "Print the tokens as one JSON object.")
        var json = false

        func validate() throws {
            if admin {
                guard space.isEmpty else { throw ValidationError("an admin token reaches no space: leave out --space") }
            } else {
                guard !space.isEmpty else { throw ValidationError("name at least one --space, or give --admin") }
            }
            for name in space where !ProtocolRules.isValidSpace(name) {
                throw ValidationError("'\(name)' is not a space name: it must match ^[a-z0-9][a-z0-9._-]{0,63}$")
            }
            guard ttl > 0 else { throw ValidationError("--ttl must be a positive number of seconds") }
        }

        func run() async throws {
            var seen = Set<String>()
            let spaces = space.filter { seen.insert($0).inserted }
            let (ttl, admin) = (self.ttl, self.admin)
            let issued = try await storage.withTokens { try await $0.issue(spaces: spaces, accessTTL: ttl, admin: admin) }
            if json {
                try printJSON(issued)
            } else {
                print(
                    """
                    access token:  \(issued.accessToken)
                    refresh token: \(issued.refreshToken)
                    expires in:    \(issued.expiresIn) s
                    spaces:        \(admin ? "none (admin token: the /admin API)" : issued.spaces.joined(separator: ", "))
                    grant:         \(issued.grantID)
                    """
                )
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the token grants, newest first.")

        @OptionGroup var storage: StorageOptions

        @Flag(name: .long, help: "Print one JSON object per grant.")
        var json = false

        func run() async throws {
            let grants = try await storage.withTokens { try await $0.grants() }
            if json {
                for grant in grants { try printJSON(grant) }
                return
            }
            if grants.isEmpty {
                print("no tokens")
                return
            }
            for grant in grants {
                let state: String
                if let revoked = grant.revokedAt {
                    state = "revoked \(RFC3339.format(millisecondsSince1970: revoked))"
                } else if let expires = grant.accessExpiresAt {
                    state = "access token expires \(RFC3339.format(millisecondsSince1970: expires))"
                } else {
                    state = "active"
                }
                let created = RFC3339.format(millisecondsSince1970: grant.createdAt)
                let reach = grant.isAdmin ? "admin" : "spaces: \(grant.spaces.joined(separator: ","))"
                print("\(grant.id)  \(reach)  created \(created)  \(state)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a grant: its access and refresh tokens stop working at once."
        )

        @OptionGroup var storage: StorageOptions

        @Argument(help: "The grant id, as `ferry token list` shows it.")
        var grant: String

        func run() async throws {
            let grant = self.grant
            guard try await storage.withTokens({ try await $0.revoke(grantID: grant) }) else {
                throw ValidationError("no grant '\(grant)'")
            }
            print("revoked \(grant)")
        }
    }
}
