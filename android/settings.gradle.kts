// Gradle settings of the Android side: one library module, `ipckit`, that packages the
// generated Kotlin bindings and the native libraries built by scripts/build-android. An app
// module (Compose UI) depends on it with `implementation(project(":ipckit"))`.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "ipc-kit-android"
include(":ipckit")
