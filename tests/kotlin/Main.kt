// Cross-language test on the JVM: the generated Kotlin bindings used the way an app's
// presentation layer uses them, against a real `ipc serve` on loopback. A CHW's phone and a
// supervisor's phone are two encrypted stores in one process, each with its own keystore.
//
//   java -Djna.library.path=target/debug -cp … org.ipckit.test.MainKt \
//        SERVER_URL WORKER_CODE SUPERVISOR_CODE WORK_DIR
//
// Prints one line per check and `N passed, N failed`; exits 1 on any failure. Checks run in
// order and later ones build on earlier ones (a failed step skips what depends on it).
package org.ipckit.test

import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import kotlin.system.exitProcess
import kotlinx.coroutines.runBlocking
import org.ipckit.ClientInput
import org.ipckit.ConsentMethod
import org.ipckit.ConsentRecord
import org.ipckit.CourseStatus
import org.ipckit.EndReason
import org.ipckit.InventoryInput
import org.ipckit.IpcException
import org.ipckit.IpcStore
import org.ipckit.Modality
import org.ipckit.MoodChange
import org.ipckit.Phase
import org.ipckit.ProblemArea
import org.ipckit.ResponseContext
import org.ipckit.RiskAssessmentInput
import org.ipckit.RiskOutcome
import org.ipckit.RiskStatus
import org.ipckit.Role
import org.ipckit.ScreeningOutcome
import org.ipckit.Sex
import org.ipckit.SessionReport
import org.ipckit.SyncPhase
import org.ipckit.TimelineInput
import org.ipckit.WorkerInput
import org.ipckit.coreVersion
import org.ipckit.createStore

/** A tiny test harness: named checks, counted, never stopping at the first failure. */
class Checks {
    var passed = 0
    var failed = 0

    fun check(name: String, body: () -> Unit): Boolean {
        try {
            body()
            passed++
            println("ok   $name")
            return true
        } catch (e: Throwable) {
            failed++
            println("FAIL $name: ${e.javaClass.simpleName}: ${e.message}")
            return false
        }
    }

    fun skip(name: String) {
        failed++
        println("FAIL $name: skipped (an earlier step failed)")
    }
}

fun expect(condition: Boolean, message: () -> String) {
    if (!condition) throw AssertionError(message())
}

inline fun <reified E : Throwable> expectThrows(body: () -> Unit): E {
    try {
        body()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.simpleName}, got ${e.javaClass.simpleName}: ${e.message}")
    }
    throw AssertionError("expected ${E::class.simpleName}, nothing was thrown")
}

// Synthetic answers (PHQ-9 in item order; the 10th, difficulty, is optional).
val PHQ9_SCREEN = listOf(2u, 2u, 2u, 1u, 1u, 1u, 1u, 1u, 0u)          // 11: moderate, eligible
val PHQ9_SESSION_1 = listOf(2u, 2u, 2u, 1u, 1u, 1u, 1u, 1u, 0u, 1u)   // 11
val PHQ9_SESSION_2 = listOf(2u, 2u, 1u, 1u, 1u, 1u, 1u, 0u, 1u)       // 10, item 9 = 1: risk
val PHQ9_SESSION_3 = listOf(1u, 1u, 1u, 1u, 1u, 0u, 0u, 0u, 0u)       // 5
val PHQ9_SESSION_4 = listOf(1u, 1u, 0u, 0u, 1u, 0u, 0u, 0u, 0u)       // 3

const val PIN = "2468"

fun main(args: Array<String>) {
    if (args.size != 4) {
        System.err.println("usage: MainKt SERVER_URL WORKER_CODE SUPERVISOR_CODE WORK_DIR")
        exitProcess(2)
    }
    val (server, workerCode, supervisorCode, workDir) = args
    val dir: Path = Paths.get(workDir)
    Files.createDirectories(dir)
    val t = Checks()
    val http = JdkTransport()
    println("ipc-kit core ${coreVersion()}, server $server")

    // ---- the CHW's phone: create, PIN, reopen ---------------------------------------------
    val chwDir = dir.resolve("chw")
    val chwKeystore = FileSecretStore(chwDir.resolve("keystore"))
    val chwDb = chwDir.resolve("ipc.db").toString()
    var chw: IpcStore? = null
    var recoveryCode = ""
    t.check("create an encrypted store with a PIN") {
        val created = createStore(
            chwDb, chwKeystore, PIN,
            WorkerInput(displayName = "Synthetic CHW", role = Role.WORKER, team = "team-a"),
        )
        recoveryCode = created.recoveryCode
        expect(recoveryCode.length == 47 && recoveryCode.count { it == '-' } == 7) { "recovery code shape" }
        expect(created.store.isUnlocked()) { "a new store is unlocked" }
        created.store.close()
        expect(!Files.readString(Paths.get(chwDb), Charsets.ISO_8859_1).contains("Synthetic CHW")) {
            "the worker's name is in the database file in clear"
        }
    }
    t.check("reopen: locked until unlocked, reads refused with Locked") {
        val store = IpcStore.open(chwDb, chwKeystore)
        expect(!store.isUnlocked()) { "open gives a locked store" }
        expectThrows<IpcException.Locked> { store.caseload() }
        store.unlock(PIN)
        expect(store.caseload().isEmpty()) { "empty caseload" }
        chw = store
    }
    t.check("a wrong PIN gives WrongPin with the attempts left, then the right PIN works") {
        val store = chw!!
        store.lock()
        val e = expectThrows<IpcException.WrongPin> { store.unlock("0000") }
        expect(e.attemptsLeft == 9u) { "attempts left ${e.attemptsLeft}" }
        store.unlock(PIN)
        expect(store.isUnlocked()) { "unlocked" }
    }
    t.check("an unavailable keystore gives Storage(keystore_unavailable)") {
        val store = IpcStore.open(chwDb, UnavailableSecretStore())
        val e = expectThrows<IpcException.Storage> { store.unlock(PIN) }
        expect(e.code == "keystore_unavailable") { "code ${e.code}" }
        store.close()
    }
    t.check("change the PIN") {
        val store = chw!!
        store.changePin(PIN, "1357")
        store.lock()
        expectThrows<IpcException.WrongPin> { store.unlock(PIN) }
        store.unlock("1357")
        store.changePin("1357", PIN)
    }
    val worker = chw
    if (worker == null) {
        println("${t.passed} passed, ${t.failed + 1} failed")
        exitProcess(1)
    }

    // ---- enrolment --------------------------------------------------------------------------
    t.check("enrol the CHW's phone against ipc serve") {
        val enrolment = runBlocking { worker.enrolDevice(server, workerCode, http) }
        expect(enrolment.role == Role.WORKER && enrolment.team == "team-a") { "enrolment $enrolment" }
        expect(worker.identity().workerId == enrolment.workerId) { "the store now works as the server's worker" }
        expect(worker.enrolment() == enrolment) { "enrolment is stored" }
    }
    t.check("a used enrolment code is refused with Unauthorized") {
        val other = createStore(
            dir.resolve("other.db").toString(), FileSecretStore(dir.resolve("other-keys")), PIN,
            WorkerInput(displayName = "Another CHW", role = Role.WORKER, team = "team-a"),
        ).store
        val e = expectThrows<IpcException.Unauthorized> { runBlocking { other.enrolDevice(server, workerCode, http) } }
        expect(e.code == "enrol_code_used") { "code ${e.code}" }
        other.close()
    }

    // ---- caseload observer ------------------------------------------------------------------
    val caseloadLog = CaseloadLog()
    val caseloadSubscription = worker.subscribeCaseload(caseloadLog)
    t.check("the caseload observer gets the current caseload on subscribing") {
        expect(caseloadLog.updates.size == 1 && caseloadLog.updates[0].isEmpty()) { "updates ${caseloadLog.updates}" }
    }

    // ---- register and screen -----------------------------------------------------------------
    var clientId = ""
    t.check("register a client; invalid input names the field") {
        val e = expectThrows<IpcException.Validation> { worker.addClient(ClientInput(displayName = "  ")) }
        expect(e.field == "display_name") { "field ${e.field}" }
        clientId = worker.addClient(
            ClientInput(
                displayName = "Amina Synthetic",
                sex = Sex.FEMALE,
                birthYear = 1990,
                village = "Kijiji",
                consent = ConsentRecord(given = true, date = java.time.LocalDate.now().toString(), version = "v1", method = ConsentMethod.VERBAL),
            ),
        )
        val info = worker.client(clientId)
        expect(info.displayName == "Amina Synthetic" && info.assignedWorkerId == worker.identity().workerId) { "client $info" }
        expect(caseloadLog.updates.last().map { it.clientId } == listOf(clientId)) { "the observer saw the new client" }
    }
    t.check("screen: PHQ-2 positive asks for a PHQ-9; PHQ-9 of 11 is eligible") {
        val phq2 = worker.screen(clientId, "phq2", listOf(2u, 2u))
        expect(phq2.phq9Needed && phq2.outcome == null) { "phq2 $phq2" }
        val phq9 = worker.screen(clientId, "phq9", PHQ9_SCREEN)
        expect(phq9.score.total == 11u && phq9.score.band == "moderate") { "score ${phq9.score}" }
        expect(phq9.outcome == ScreeningOutcome.ELIGIBLE && phq9.riskEventId == null) { "outcome $phq9" }
        val bad = expectThrows<IpcException.Validation> { worker.screen(clientId, "phq9", listOf(1u, 2u)) }
        expect(bad.field == "answers") { "field ${bad.field}" }
    }

    // ---- instruments for rendering -----------------------------------------------------------
    t.check("instrument definitions render with translations and visible fallbacks") {
        val form = worker.instrument("phq9")
        expect(form.items.size == 10 && form.items.count { it.scored } == 9) { "items ${form.items.size}" }
        expect(form.items.all { it.options.size == 4 } && form.maxTotal == 27u) { "options" }
        expect(form.items.none { it.text.fallback } && form.fallbackCount == 0u) { "no fallback without a translation" }
        worker.setTranslations(
            agendaJson = """{"language": "sw", "texts": {"agenda.initial.confidentiality.title": "[sw] Usiri"}}""",
            instrumentPacksJson = listOf(
                """{"instrument": "phq9", "version": "1.0", "language": "sw", "title": "[sw] PHQ-9", "items": {"phq9_1": "[sw] item 1"}}""",
            ),
        )
        val sw = worker.instrument("phq9")
        expect(sw.language == "sw" && sw.title.text == "[sw] PHQ-9" && !sw.title.fallback) { "title ${sw.title}" }
        expect(sw.items[0].text.text == "[sw] item 1" && !sw.items[0].text.fallback) { "item 1 ${sw.items[0].text}" }
        expect(sw.items[1].text.fallback && sw.fallbackCount > 0u) { "item 2 falls back visibly" }
        val refused = expectThrows<IpcException.Validation> {
            worker.setTranslations(agendaJson = """{"language": "sw", "texts": {"no.such.key": "x"}}""")
        }
        expect(refused.field == "agenda_translation") { "field ${refused.field}" }
        val score = worker.score("gad7", listOf(1u, 1u, 1u, 1u, 1u, 1u, 1u))
        expect(score.total == 7u && score.max == 21u) { "gad7 $score" }
    }

    // ---- a course of four sessions ----------------------------------------------------------
    var courseId = ""
    var riskEventId = ""
    val ok = t.check("start a course of four sessions") {
        courseId = worker.startCourse(clientId, 4u)
        val courses = worker.courses(clientId)
        expect(courses.size == 1 && courses[0].plannedSessions == 4u && courses[0].status == CourseStatus.ENROLLED) { "course ${courses[0]}" }
    }
    if (ok) {
        t.check("session 1 (initial): agenda, PHQ-9, inventory, timeline, problem area") {
            val plan = worker.nextSession(courseId)
            expect(plan.number == 1u && plan.phase == Phase.INITIAL) { "plan ${plan.number} ${plan.phase}" }
            val ids = plan.steps.map { it.id }
            expect(ids.first() == "confidentiality" && "interpersonal_inventory" in ids && "problem_area" in ids) { "steps $ids" }
            expect(plan.steps.all { it.prompts.isNotEmpty() }) { "every step has prompts" }
            val confidentiality = plan.steps.first()
            expect(confidentiality.title.text == "[sw] Usiri" && !confidentiality.title.fallback) { "translated title" }
            expect(confidentiality.fallback && confidentiality.prompts.all { it.fallback }) { "untranslated prompts are marked" }
            // Completing before the required steps are recorded is refused, naming the steps.
            val refused = expectThrows<IpcException.Refused> {
                worker.completeSession(plan.sessionId, SessionReport(stepsDone = ids))
            }
            expect(refused.code == "missing_steps" && refused.detail.contains("interpersonal_inventory")) { "refusal $refused" }
            val response = worker.recordResponse(plan.sessionId, "phq9", PHQ9_SESSION_1)
            expect(response.score.total == 11u && response.riskEventId == null) { "phq9 ${response.score}" }
            worker.addInventory(courseId, InventoryInput(label = "Sister", relationship = "sister", closeness = 4u, support = "visits weekly"))
            worker.addInventory(courseId, InventoryInput(label = "Husband", relationship = "spouse", closeness = 2u, conflict = "arguments about money"))
            worker.addTimelineEvent(courseId, TimelineInput(date = java.time.LocalDate.now().minusMonths(3).toString(), event = "Moved to town for work", moodChange = MoodChange.WORSE))
            worker.setProblemArea(courseId, ProblemArea.LIFE_CHANGES)
            val next = worker.completeSession(plan.sessionId, SessionReport(stepsDone = ids, modality = Modality.IN_PERSON, notes = "Synthetic session note"))
            expect(next != null) { "session 2 is planned" }
            expect(worker.inventory(courseId).map { it.label }.toSet() == setOf("Sister", "Husband")) { "inventory" }
            expect(worker.timeline(courseId).size == 1) { "timeline" }
        }
        t.check("session 2 (middle): PHQ-9 item 9 > 0 requires the risk assessment") {
            val plan = worker.nextSession(courseId)
            expect(plan.number == 2u && plan.phase == Phase.MIDDLE) { "plan ${plan.number} ${plan.phase}" }
            val ids = plan.steps.map { it.id }
            expect("transition_new_role" in ids) { "the chosen area's strategy steps are in the agenda: $ids" }
            val response = worker.recordResponse(plan.sessionId, "phq9", PHQ9_SESSION_2)
            riskEventId = response.riskEventId ?: throw AssertionError("item 9 > 0 opens a risk event")
            val report = SessionReport(stepsDone = ids, task = "Visit the sister once this week")
            val first = expectThrows<IpcException.RiskAssessmentRequired> { worker.completeSession(plan.sessionId, report) }
            expect(first.riskEventId == riskEventId) { "the refusal names the risk event" }
            // Still refused on a second try: nothing was half-written.
            expectThrows<IpcException.RiskAssessmentRequired> { worker.completeSession(plan.sessionId, report) }
            val worklist = worker.worklist()
            expect(worklist[0].clientId == clientId && worklist[0].reasons[0].contains("assessment")) { "worklist ${worklist[0].reasons}" }
            worker.assessRisk(
                riskEventId,
                RiskAssessmentInput(
                    thoughts = true, plan = false, intent = false, means = false, pastAttempt = false,
                    supervisorContacted = true, outcome = RiskOutcome.SAFETY_PLAN, note = "Safety plan agreed",
                ),
            )
            val next = worker.completeSession(plan.sessionId, report)
            expect(next != null) { "session 3 is planned" }
            val risk = worker.riskEvents(clientId).single()
            expect(risk.status == RiskStatus.ASSESSED && risk.assessment?.supervisorContacted == true) { "risk $risk" }
        }
        t.check("sessions 3 (middle) and 4 (termination), then the course ends") {
            for ((number, values) in listOf(3u to PHQ9_SESSION_3, 4u to PHQ9_SESSION_4)) {
                val plan = worker.nextSession(courseId)
                expect(plan.number == number) { "session ${plan.number}, expected $number" }
                expect(plan.phase == if (number == 4u) Phase.TERMINATION else Phase.MIDDLE) { "phase ${plan.phase}" }
                worker.recordResponse(plan.sessionId, "phq9", values)
                val next = worker.completeSession(plan.sessionId, SessionReport(stepsDone = plan.steps.map { it.id }, task = "Keep the weekly visit"))
                expect((next == null) == (number == 4u)) { "next after $number: $next" }
            }
            val sessions = worker.sessions(courseId)
            expect(sessions.size == 4 && sessions.all { it.completed }) { "sessions ${sessions.map { it.number }}" }
            worker.endCourse(courseId, EndReason.COMPLETED)
            expect(worker.caseload().single().status == CourseStatus.COMPLETED) { "caseload status" }
        }
        t.check("worklist and trajectory") {
            val item = worker.worklist().single()
            expect(item.reasons.any { it.contains("risk event open") }) { "an assessed, open risk event is listed: ${item.reasons}" }
            val view = worker.caseView(clientId)
            expect(view.outcome?.baseline == 11u && view.outcome?.latest == 3u && view.outcome?.response == true) { "outcome ${view.outcome}" }
            val phq9 = worker.trajectory(clientId).filter { it.instrument == "phq9" }
            expect(phq9.map { it.total } == listOf(11u, 11u, 10u, 5u, 3u)) { "phq9 totals ${phq9.map { it.total }}" }
            expect(phq9.first().context == ResponseContext.SCREENING && phq9.drop(1).map { it.session } == listOf(1u, 2u, 3u, 4u)) { "sessions" }
        }
    } else {
        listOf("session 1", "session 2", "sessions 3 and 4", "worklist and trajectory").forEach { t.skip(it) }
    }

    // ---- sync -------------------------------------------------------------------------------
    val progress = ProgressLog()
    val progressSubscription = worker.subscribeSyncProgress(progress)
    t.check("sync with a progress observer") {
        val pending = worker.outboxLen()
        expect(pending > 0u) { "there is work to send" }
        val result = runBlocking { worker.sync(http) }
        expect(result.complete && result.pushed == pending && result.acknowledged == pending) { "result $result" }
        expect(result.quarantined == 0uL && worker.quarantined().isEmpty()) { "nothing refused" }
        expect(worker.outboxLen() == 0uL) { "outbox empty" }
        expect(progress.events.isNotEmpty() && progress.events.last().phase == SyncPhase.DONE) { "progress ${progress.events}" }
        expect(progress.events.any { it.phase == SyncPhase.PUSH && it.total == pending }) { "push progress" }
    }
    progressSubscription.cancel()

    // ---- the supervisor's phone -------------------------------------------------------------
    val supDir = dir.resolve("supervisor")
    var supervisor: IpcStore? = null
    t.check("the supervisor's phone enrols, syncs and sees the risk event") {
        val sup = createStore(
            supDir.resolve("ipc.db").toString(), FileSecretStore(supDir.resolve("keystore")), "8642",
            WorkerInput(displayName = "Synthetic supervisor", role = Role.SUPERVISOR, team = "team-a"),
        ).store
        supervisor = sup
        val enrolment = runBlocking { sup.enrolDevice(server, supervisorCode, JdkTransport()) }
        expect(enrolment.role == Role.SUPERVISOR) { "role ${enrolment.role}" }
        val result = runBlocking { sup.sync(JdkTransport()) }
        expect(result.complete && result.pulled > 0uL) { "result $result" }
        val queue = sup.supervisorQueue()
        val item = queue.firstOrNull { it.clientId == clientId } ?: throw AssertionError("client not in the queue: $queue")
        val reason = item.reasons.first()
        expect(reason.kind == "risk_event" && reason.riskEventId == riskEventId) { "reason $reason" }
        expect(sup.riskEvents(clientId).single().status == RiskStatus.ASSESSED) { "the supervisor sees the assessment" }
        expect(sup.trajectory(clientId).count { it.instrument == "phq9" } == 5) { "the supervisor sees the scores" }
    }
    t.check("the supervisor's note marks the risk event reviewed, and reaches the CHW") {
        val sup = supervisor!!
        sup.addNote(clientId, "Reviewed the safety plan with the CHW", riskEventId)
        expect(sup.supervisorQueue().none { q -> q.reasons.any { it.riskEventId == riskEventId } }) { "reviewed" }
        val pushed = runBlocking { sup.sync(JdkTransport()) }
        expect(pushed.complete && pushed.acknowledged == 1uL) { "supervisor push $pushed" }
        val pulled = runBlocking { worker.sync(http) }
        expect(pulled.pulled == 1uL) { "CHW pull $pulled" }
        expect(worker.notes(clientId).single().riskEventId == riskEventId) { "the CHW sees the note" }
    }

    // ---- failure: a transport that throws ---------------------------------------------------
    t.check("a transport that throws gives Network and loses nothing") {
        val second = worker.addClient(ClientInput(displayName = "Baraka Synthetic", village = "Kijiji"))
        worker.raiseConcern(second, "Synthetic observation: low mood, withdrawn")
        val pending = worker.outboxLen()
        val failing = ThrowingTransport()
        expectThrows<IpcException.Network> { runBlocking { worker.sync(failing) } }
        expect(failing.attempts.get() > 1) { "it was retried (${failing.attempts.get()} attempts)" }
        expect(worker.outboxLen() == pending) { "outbox ${worker.outboxLen()} after a failed sync, expected $pending" }
        val result = runBlocking { worker.sync(http) }
        expect(result.complete && result.acknowledged == pending && worker.outboxLen() == 0uL) { "retry $result" }
        val sup = supervisor!!
        runBlocking { sup.sync(JdkTransport()) }
        expect(sup.caseload().any { it.clientId == second && it.openRiskEvents == 1u }) { "the supervisor got it" }
        expect(sup.supervisorQueue().first().clientId == second) { "an unassessed risk event comes first" }
    }
    t.check("the caseload observer followed every change, and stops when cancelled") {
        val last = caseloadLog.updates.last()
        expect(last.size == 2) { "last caseload has ${last.size} clients" }
        caseloadSubscription.cancel()
        val seen = caseloadLog.updates.size
        worker.addClient(ClientInput(displayName = "Chausiku Synthetic"))
        expect(caseloadLog.updates.size == seen) { "no update after cancel" }
    }
    t.check("lock: every read is refused until unlocked again") {
        worker.lock()
        expectThrows<IpcException.Locked> { worker.worklist() }
        expectThrows<IpcException.Locked> { worker.caseView(clientId) }
        worker.unlock(PIN)
        expect(worker.caseload().size == 3) { "three clients" }
    }
    supervisor?.close()
    worker.close()

    println("${t.passed} passed, ${t.failed} failed")
    exitProcess(if (t.failed == 0) 0 else 1)
}
