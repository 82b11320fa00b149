// The Kotlin side of the FFI call-cost comparison: the same calls on the same data as
// bindings/src/bin/call-cost.rs, made through the generated bindings (JNA). Run by
// `scripts/kotlin-test --bench` against the release library; synthetic data only.
package org.ipckit.test

import java.nio.file.Files
import java.nio.file.Paths
import org.ipckit.ClientInput
import org.ipckit.Role
import org.ipckit.WorkerInput
import org.ipckit.createStore

const val CLIENTS = 200
val PHQ9 = listOf(2u, 2u, 2u, 1u, 1u, 1u, 1u, 1u, 0u)

fun time(label: String, warmup: Int, n: Int, f: () -> Unit) {
    repeat(warmup) { f() }
    val samples = DoubleArray(n) {
        val start = System.nanoTime()
        f()
        (System.nanoTime() - start) / 1000.0
    }
    samples.sort()
    val mean = samples.average()
    println(String.format("kotlin %-28s median %9.2f µs   mean %9.2f µs   (n=%d)", label, samples[n / 2], mean, n))
}

fun main(args: Array<String>) {
    val dir = Paths.get(args[0])
    Files.createDirectories(dir)
    val store = createStore(
        dir.resolve("bench.db").toString(), FileSecretStore(dir.resolve("keystore")), "2468",
        WorkerInput(displayName = "Synthetic CHW", role = Role.WORKER, team = "team-a"),
    ).store
    var first = ""
    for (i in 0 until CLIENTS) {
        val id = store.addClient(
            ClientInput(displayName = "Synthetic Client $i", birthYear = 1980 + i % 30, village = "Village ${i % 12}"),
        )
        if (i == 0) first = id
    }
    store.screen(first, "phq9", PHQ9)
    val course = store.startCourse(first, 6u)
    val session = store.nextSession(course).sessionId
    println("kotlin JVM ${System.getProperty("java.version")} + JNA, $CLIENTS clients")
    time("is_unlocked()", 10_000, 100_000) { check(store.isUnlocked()) }
    time("score(phq9)", 2_000, 20_000) { store.score("phq9", PHQ9) }
    time("caseload() [$CLIENTS rows]", 50, 500) { check(store.caseload().size == CLIENTS) }
    time("record_response(phq9)", 50, 500) { store.recordResponse(session, "phq9", PHQ9) }
    store.close()
}
