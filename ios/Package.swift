// swift-tools-version:5.9
// The iOS side of ipc-kit as a Swift package: `IpcKitFFI` is the XCFramework of static
// libraries (libipc_bindings.a per device/simulator slice, with the C header and module map),
// `IpcKit` the uniffi-generated Swift over it. Both are written by scripts/build-ios; the
// SwiftUI app depends on the `IpcKit` product.
import PackageDescription

let package = Package(
    name: "IpcKit",
    platforms: [.iOS(.v15)],
    products: [
        .library(name: "IpcKit", targets: ["IpcKit"]),
    ],
    targets: [
        .binaryTarget(name: "IpcKitFFI", path: "IpcKitFFI.xcframework"),
        .target(
            name: "IpcKit",
            dependencies: ["IpcKitFFI"],
            path: "Sources/IpcKit",
            exclude: ["README.md"]
        ),
    ]
)
