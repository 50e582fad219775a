import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Balancer } from './balancer.js';
import { CircuitBreaker } from './circuit-breaker.js';

const options = { failureThreshold: 5, openMs: 5_000, maxOpenMs: 30_000, probeTimeoutMs: 10_000 };
const T = 1_700_000_000_000;

function opened(): CircuitBreaker {
  const circuit = new CircuitBreaker(options);
  for (let i = 0; i < 5; i++) circuit.failure(T);
  return circuit;
}

describe('CircuitBreaker', () => {
  test('opens on the fifth consecutive failure, not before', () => {
    const circuit = new CircuitBreaker(options);
    for (let i = 0; i < 4; i++) assert.equal(circuit.failure(T), 'none');
    assert.equal(circuit.phase(T), 'closed');
    assert.equal(circuit.failure(T), 'opened');
    assert.equal(circuit.phase(T), 'open');
    assert.equal(circuit.usableAt(T), T + 5_000);
  });

  test('a success in between starts the count again', () => {
    const circuit = new CircuitBreaker(options);
    for (let i = 0; i < 4; i++) circuit.failure(T);
    circuit.success(T);
    for (let i = 0; i < 4; i++) assert.equal(circuit.failure(T), 'none');
    assert.equal(circuit.phase(T), 'closed');
  });

  test('half-open lets exactly one probe through at a time', () => {
    const circuit = opened();
    const later = T + 5_000;
    assert.equal(circuit.phase(later), 'half_open');
    assert.equal(circuit.usableAt(later), 0);
    assert.ok(circuit.claimProbe(later) > 0, 'the probe gets its ticket');
    assert.equal(circuit.claimProbe(later), 0, 'a second probe waits');
    assert.equal(circuit.usableAt(later + 1), later + 10_000);
  });

  test('a probe success closes the circuit', () => {
    const circuit = opened();
    const probe = circuit.claimProbe(T + 5_000);
    assert.equal(circuit.success(T + 5_100, probe), 'closed');
    assert.equal(circuit.phase(T + 5_100), 'closed');
    assert.equal(circuit.consecutiveFailures, 0);
  });

  test('a probe failure reopens with a doubled, capped cool-off', () => {
    const circuit = opened();
    let now = T + 5_000;
    const expected = [10_000, 20_000, 30_000, 30_000];
    for (const ms of expected) {
      const probe = circuit.claimProbe(now);
      assert.equal(circuit.failure(now, probe), 'opened');
      assert.equal(circuit.usableAt(now), now + ms);
      now += ms;
    }
    circuit.success(now, circuit.claimProbe(now));
    // Closed again: the next opening starts from the first cool-off.
    for (let i = 0; i < 5; i++) circuit.failure(now);
    assert.equal(circuit.usableAt(now), now + 5_000);
  });

  test('late answers while open change nothing', () => {
    const circuit = opened();
    assert.equal(circuit.failure(T + 1_000), 'none');
    assert.equal(circuit.success(T + 1_000), 'none');
    assert.equal(circuit.phase(T + 1_000), 'open');
    assert.equal(circuit.usableAt(T + 1_000), T + 5_000);
  });

  test('a probe that never reports frees its slot after probeTimeoutMs; release frees it at once', () => {
    const circuit = opened();
    circuit.claimProbe(T + 5_000);
    assert.equal(circuit.claimProbe(T + 14_999), 0);
    const probe = circuit.claimProbe(T + 15_000);
    assert.ok(probe > 0);
    circuit.release(probe);
    assert.ok(circuit.claimProbe(T + 15_001) > 0);
  });

  test('reset closes it', () => {
    const circuit = opened();
    circuit.reset();
    assert.equal(circuit.phase(T), 'closed');
    assert.equal(circuit.usableAt(T), 0);
  });
});

describe('circuit breaker half-open under the gateway defaults', () => {
  test('a probe still in flight (a provider call may last minutes) keeps a second probe out', () => {
    // The gateway's balancer: `new Balancer()` in KeyChoice, with the default circuit.
    const balancer = new Balancer();
    balancer.setGroup('g', [{ providerKeyId: 'k', weight: 1 }]);
    for (let i = 0; i < 5; i++) balancer.reportFailure('k', { now: T, kind: 'timeout' });
    assert.equal(balancer.pick('g', T + 1), undefined, 'the circuit is open');
    const halfOpen = T + 5_000;
    assert.ok(balancer.pick('g', halfOpen), 'the one probe goes out');
    // The probe has not answered yet: a call may last its provider's total timeout (15 min by
    // default, up to 1 h), and it always reports when it ends.
    for (const inFlight of [31_000, 15 * 60_000, 3_600_000]) {
      assert.equal(
        balancer.pick('g', halfOpen + inFlight),
        undefined,
        'a second probe went to a half-open key while its first probe was still in flight',
      );
    }
    // A report lost to a bug does not keep the key out for good.
    assert.ok(balancer.pick('g', halfOpen + 3_660_000), 'the slot frees itself after the longest call');
  });

  test("while the probe runs, a caller with no other key is told the circuit's pace, not an hour", () => {
    const balancer = new Balancer();
    balancer.setGroup('g', [{ providerKeyId: 'k', weight: 1 }]);
    for (let i = 0; i < 5; i++) balancer.reportFailure('k', { now: T, kind: 'timeout' });
    const halfOpen = T + 5_000;
    assert.ok(balancer.pick('g', halfOpen), 'the one probe goes out');
    const probe = balancer.lastProbe;
    // The slot's 61 minutes bound a lost report; the probe itself reports when it ends. A
    // Retry-After of an hour (x-should-retry: false) would send callers away from a key that
    // may be back in a second: they are asked back after the circuit's open period.
    const inFlight = halfOpen + 2_000;
    assert.equal(balancer.nextUsableAt('g', inFlight), inFlight + 5_000);
    assert.equal(balancer.describe('g', inFlight)[0]?.usableAt, inFlight + 5_000);
    assert.equal(balancer.pick('g', inFlight + 5_000), undefined, 'still no second probe');
    // After a failed probe the pace doubles, as the circuit's own wait does.
    balancer.reportFailure('k', { now: inFlight, kind: 'timeout', probe });
    assert.ok(balancer.pick('g', inFlight + 10_000), 'the next probe goes out');
    assert.equal(balancer.nextUsableAt('g', inFlight + 10_001), inFlight + 20_001);
  });
});

describe('half-open: only the probe decides, and only its report frees its slot', () => {
  /** Key k, whose request `early` went out while closed; then 5 timeouts open the circuit. */
  function withEarlyRequest(): Balancer {
    const balancer = new Balancer();
    balancer.setGroup('g', [{ providerKeyId: 'k', weight: 1 }]);
    const attempts = balancer.candidates('g');
    assert.equal(attempts.next(T)?.providerKeyId, 'k', 'a long call goes out while closed');
    assert.ok(!attempts.probe, 'a closed circuit hands out no probe');
    for (let i = 0; i < 5; i++) balancer.reportFailure('k', { now: T, kind: 'timeout' });
    return balancer;
  }

  test("a request from before the circuit opened neither closes it nor frees the probe's slot", () => {
    const balancer = withEarlyRequest();
    const probe = balancer.candidates('g');
    assert.equal(probe.next(T + 5_000)?.providerKeyId, 'k', 'the probe goes out');
    // The early call answers while the probe runs: it tested the key before the circuit judged it.
    const late = balancer.reportSuccess('k', { now: T + 6_000, latencyMs: 6_000 });
    assert.equal(late.type, 'unchanged', 'a non-probe success closed the half-open circuit');
    assert.equal(balancer.pick('g', T + 6_001), undefined, 'a second probe went out');
    const closed = balancer.reportSuccess('k', { now: T + 7_000, latencyMs: 2_000, probe: probe.probe });
    assert.equal(closed.type, 'circuit_closed', "the probe's own success closes it");
  });

  test('a non-probe failure does not reopen the circuit nor lengthen its backoff', () => {
    const balancer = withEarlyRequest();
    const probe = balancer.candidates('g');
    probe.next(T + 5_000);
    const late = balancer.reportFailure('k', { now: T + 6_000, kind: 'timeout' });
    assert.equal(
      late.type,
      'unchanged',
      "a non-probe failure reopened the circuit: the probe's answer is lost",
    );
    const reopened = balancer.reportFailure('k', { now: T + 7_000, kind: 'timeout', probe: probe.probe });
    assert.equal(reopened.type === 'circuit_opened' && reopened.until, T + 17_000, 'doubled once');
  });

  test("a non-probe 429, cancel or skip keeps the probe's slot; the probe's own frees it", () => {
    for (const free of [
      (b: Balancer, probe: number) =>
        b.reportFailure('k', { now: T + 6_000, kind: 'caller_cancelled', probe }),
      (b: Balancer, probe: number) => b.reportFailure('k', { now: T + 6_000, kind: 'rate_limited', probe }),
      (b: Balancer, probe: number) => b.reportUnused('k', T + 6_000, probe),
    ]) {
      const balancer = withEarlyRequest();
      const attempts = balancer.candidates('g');
      attempts.next(T + 5_000);
      free(balancer, 0);
      assert.equal(balancer.pick('g', T + 8_000), undefined, 'a second probe went out while the first runs');
      free(balancer, attempts.probe);
      assert.equal(balancer.pick('g', T + 8_000)?.providerKeyId, 'k', 'the next probe goes out');
    }
  });

  test('a probe whose slot timed out no longer decides once the next probe is out', () => {
    const balancer = new Balancer({ circuit: { probeTimeoutMs: 10_000 } });
    balancer.setGroup('g', [{ providerKeyId: 'k', weight: 1 }]);
    for (let i = 0; i < 5; i++) balancer.reportFailure('k', { now: T, kind: 'timeout' });
    assert.ok(balancer.pick('g', T + 5_000));
    const lost = balancer.lastProbe;
    assert.ok(balancer.pick('g', T + 15_000), 'the lost probe freed its slot after probeTimeoutMs');
    const next = balancer.lastProbe;
    assert.equal(
      balancer.reportSuccess('k', { now: T + 15_500, latencyMs: 1, probe: lost }).type,
      'unchanged',
    );
    assert.equal(balancer.pick('g', T + 15_501), undefined, 'the lost probe freed the new one');
    assert.equal(
      balancer.reportSuccess('k', { now: T + 16_000, latencyMs: 1, probe: next }).type,
      'circuit_closed',
    );
  });

  test('a call on another path (token counting, never handed out) does not decide', () => {
    const balancer = withEarlyRequest();
    balancer.pick('g', T + 5_000);
    const probe = balancer.lastProbe;
    assert.equal(
      balancer.reportFailure('k', { now: T + 5_100, kind: 'connection_failed' }).type,
      'unchanged',
    );
    assert.equal(
      balancer.reportFailure('k', { now: T + 5_200, kind: 'timeout', probe }).type,
      'circuit_opened',
    );
  });
});
