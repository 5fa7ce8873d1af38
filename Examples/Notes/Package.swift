// swift-tools-version: 6.0
import PackageDescription

/// A notes app's data layer on Ferry: what an app adds to sync its own SQLite database.
/// It depends on Ferry by path, as an app in the same repository would; an app elsewhere
/// names `https://github.com/…/ferry` and a version instead.
let package = Package(
    name: "Notes",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "NotesData", targets: ["NotesData"])
    ],
    dependencies: [
        .package(name: "Ferry", path: "../.."),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .target(
            name: "NotesData",
            dependencies: [
                .product(name: "FerryClient", package: "Ferry"),
                .product(name: "FerryCore", package: "Ferry"),
                .product(name: "FerryHTTP", package: "Ferry"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "NotesDataTests",
            dependencies: [
                "NotesData",
                .product(name: "FerryTestKit", package: "Ferry"),
                .product(name: "FerryLog", package: "Ferry"),
            ]
        ),
    ]
)
