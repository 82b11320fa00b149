// What an Android or desktop shell supplies to the Rust core through the generated bindings:
// a keystore (here a file per secret, the JVM stand-in for Android's Keystore), an HTTP
// transport on the platform's own stack (here java.net.http; OkHttp on Android), and
// observers. Written as an app would write them; used by Main.kt and Bench.kt.
package org.ipckit.test

import java.io.IOException
import java.net.URI
import java.net.http.HttpClient
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.nio.file.attribute.PosixFilePermissions
import java.time.Duration
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.atomic.AtomicInteger
import org.ipckit.CaseloadItem
import org.ipckit.CaseloadObserver
import org.ipckit.HttpTransport
import org.ipckit.IpcException
import org.ipckit.SecretStore
import org.ipckit.SyncObserver
import org.ipckit.SyncProgress
import org.ipckit.HttpRequest as IpcRequest
import org.ipckit.HttpResponse as IpcResponse

/** Secrets as owner-only files in [dir], one per name; never overwrites a different secret. */
class FileSecretStore(private val dir: Path) : SecretStore {
    init {
        Files.createDirectories(dir)
    }

    private fun file(name: String): Path {
        if (!name.matches(Regex("[A-Za-z0-9_-]{1,64}"))) {
            throw IpcException.Validation("secret_name", "use 1-64 letters, digits, '-' or '_'")
        }
        return dir.resolve("$name.secret")
    }

    override fun get(name: String): ByteArray? {
        val f = file(name)
        return if (Files.exists(f)) Files.readAllBytes(f) else null
    }

    override fun put(name: String, secret: ByteArray) {
        val f = file(name)
        if (Files.exists(f)) {
            if (Files.readAllBytes(f).contentEquals(secret)) return
            throw IpcException.Conflict("a different secret is already stored under this name")
        }
        val tmp = Files.createTempFile(dir, ".$name", ".tmp")
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"))
        Files.write(tmp, secret)
        Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE)
    }

    override fun delete(name: String) {
        Files.deleteIfExists(file(name))
    }
}

/** A keystore that is never available (an Android keystore before the first device unlock). */
class UnavailableSecretStore : SecretStore {
    override fun get(name: String): ByteArray? =
        throw IpcException.Storage("keystore_unavailable", "keystore locked")

    override fun put(name: String, secret: ByteArray) =
        throw IpcException.Storage("keystore_unavailable", "keystore locked")

    override fun delete(name: String) =
        throw IpcException.Storage("keystore_unavailable", "keystore locked")
}

/** The sync transport on the JDK's HTTP client (the platform's TLS, proxies and timeouts). */
class JdkTransport : HttpTransport {
    private val client: HttpClient =
        HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    val requests = AtomicInteger()

    override fun send(request: IpcRequest): IpcResponse {
        requests.incrementAndGet()
        val builder = java.net.http.HttpRequest.newBuilder(URI.create(request.url))
            .timeout(Duration.ofSeconds(30))
        for (h in request.headers) builder.header(h.name, h.value)
        val body = if (request.method == "GET") {
            java.net.http.HttpRequest.BodyPublishers.noBody()
        } else {
            java.net.http.HttpRequest.BodyPublishers.ofByteArray(request.body)
        }
        builder.method(request.method, body)
        try {
            val response = client.send(
                builder.build(),
                java.net.http.HttpResponse.BodyHandlers.ofByteArray(),
            )
            return IpcResponse(response.statusCode().toUShort(), response.body())
        } catch (e: IOException) {
            throw IpcException.Network(e.javaClass.simpleName)
        }
    }

    /** java.net.http does not decode brotli: replies come gzip, which the core decodes. */
    override fun decodesBrotli(): Boolean = false
}

/** A transport whose platform stack fails with its own exception type on every request. */
class ThrowingTransport : HttpTransport {
    val attempts = AtomicInteger()

    override fun send(request: IpcRequest): IpcResponse {
        attempts.incrementAndGet()
        throw IOException("synthetic failure: no route to host")
    }

    /** Fails too: the core then asks for gzip, and the sync goes on to fail in send(). */
    override fun decodesBrotli(): Boolean = throw IOException("synthetic failure")
}

/** Collects sync progress, as a progress bar's view model would. */
class ProgressLog : SyncObserver {
    val events = CopyOnWriteArrayList<SyncProgress>()

    override fun onSyncProgress(progress: SyncProgress) {
        events.add(progress)
    }
}

/** Keeps the latest caseload, as a list screen's view model would. */
class CaseloadLog : CaseloadObserver {
    val updates = CopyOnWriteArrayList<List<CaseloadItem>>()

    override fun onCaseloadChanged(caseload: List<CaseloadItem>) {
        updates.add(caseload)
    }
}
