// The `ipckit` Android library: the uniffi-generated Kotlin (src/main/kotlin/org/ipckit/,
// generated with `android = true`) and libipc_bindings.so per ABI (src/main/jniLibs/), both
// written by scripts/build-android. Apps call org.ipckit.* and implement SecretStore,
// HttpTransport and the observers (see ../README.md).
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.ipckit"
    compileSdk = 35

    defaultConfig {
        // Android 7.0: the floor of the cheap phones CHWs carry; JNA and the NDK build support it.
        minSdk = 24
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets["main"].kotlin.srcDir("src/main/kotlin")
    sourceSets["main"].jniLibs.srcDir("src/main/jniLibs")

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    // The generated bindings call the library through JNA (the AAR ships libjnidispatch.so).
    implementation("net.java.dev.jna:jna:5.15.0@aar")
    // `suspend` functions (enrolment, sync) of the generated bindings.
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")
    // `android = true` bindings use @RequiresApi for Android's SystemCleaner.
    implementation("androidx.annotation:annotation:1.9.1")
}
