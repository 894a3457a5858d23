package clusters

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// LockTopic holds the apply lock's log (see docs/operations.md, "Apply lock").
const LockTopic = "__avatar_sync_lock"

// MaxLeaseTTL is the longest any claim on the apply lock is honoured, counted from the time the
// claim (or its latest renewal) was written, whatever TTL the record asks for. Any client that can
// write to LockTopic could otherwise lock every apply out for a century with one record (issue 10
// item 10). AcquireLease refuses to ask for more.
const MaxLeaseTTL = 6 * time.Hour

// maxClockSkew is how far in the future a claim's timestamp may lie before readers ignore it.
// Real Kafka stamps lock records itself (LogAppendTime); kfake keeps the producer's timestamp, so
// a claim dated ten years ahead would otherwise escape MaxLeaseTTL.
const maxClockSkew = 5 * time.Minute

// leaseIOTimeout bounds the lease's release and unlock exchanges, so a cancelled or timed-out
// apply can still release within a fresh, bounded context (issue 10 item 3); acquiring is bounded
// by the request timeout.
const leaseIOTimeout = 10 * time.Second

// lockRecord is one entry of the lock log.
type lockRecord struct {
	Op     string `json:"op"` // "claim", "renew" or "release"
	ID     string `json:"id"` // random per claim; a renew or release names the claim it extends or ends
	Holder string `json:"holder,omitempty"`
	TTLms  int64  `json:"ttlMs,omitempty"`
	// Host, Node, PID and Start identify the claiming process, so a later apply on the same
	// machine can tell that it died (Node = boot id + pid namespace; Start = its start time in
	// clock ticks, which tells a reused pid apart).
	Host  string `json:"host,omitempty"`
	Node  string `json:"node,omitempty"`
	PID   int    `json:"pid,omitempty"`
	Start uint64 `json:"start,omitempty"`
	// Reason says why a release was written by someone other than the holder (unlock, takeover).
	Reason string `json:"reason,omitempty"`
}

// LockHolder describes the current claim on the apply lock.
type LockHolder struct {
	// ID is the claim's lock ID: what `avatar-sync unlock` takes.
	ID string
	// Holder is the claimant's own description ("user@host pid N").
	Holder string
	// Host and PID name the claiming process ("" / 0 when an older or foreign client wrote it).
	Host string
	PID  int
	// Since is when the claim was written; Expires when it lapses: its latest renewal's (or the
	// claim's) timestamp plus the TTL, capped at MaxLeaseTTL.
	Since, Expires time.Time

	node  string
	start uint64
}

// Liveness is what this machine can tell about a lock holder's process.
type Liveness int

const (
	// LivenessUnknown: the holder runs on another machine (or did not record its process).
	LivenessUnknown Liveness = iota
	// LivenessRunning: the holder's process is running on this machine.
	LivenessRunning
	// LivenessDead: the holder ran on this machine and its process is gone.
	LivenessDead
)

// Liveness checks the holder's process when it ran on this machine (same boot and pid namespace).
// A pid that now belongs to a process started at another time counts as dead.
func (h LockHolder) Liveness() Liveness {
	self := currentProcess()
	if h.node == "" || h.PID <= 0 || self.node == "" || h.node != self.node {
		return LivenessUnknown
	}
	start, err := processStart(h.PID)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return LivenessDead
	case err != nil:
		return LivenessUnknown
	case h.start != 0 && start != h.start:
		return LivenessDead
	}
	return LivenessRunning
}

// lockState is the lock as of some offset of the log.
type lockState struct {
	held bool
	LockHolder
}

// replayLock decides who holds the lock from the log alone, so every reader agrees: a claim wins
// if the lock is free or the current claim has expired at the claim's own timestamp; a renew
// extends only the current claim it names, and only while that claim has not expired at the
// renew's timestamp; a release ends only the claim it names. A claim or renew lasts its TTL from
// its own timestamp, at most MaxLeaseTTL; one stamped more than maxClockSkew after now is ignored.
// Pure; the ordering comes from the single partition the records live in.
func replayLock(records []lockEntry, now time.Time) lockState {
	st, _ := replayFor(records, now, "")
	return st
}

// replayFor is replayLock that also says how the claim id stopped holding the lock (for
// Lease.Renew's error); "" while it holds the lock, or when id is "".
func replayFor(records []lockEntry, now time.Time, id string) (lockState, string) {
	var (
		st    lockState
		ended string
	)
	ttlOf := func(r lockRecord) time.Duration {
		return min(max(time.Duration(r.TTLms)*time.Millisecond, 0), MaxLeaseTTL)
	}
	for _, e := range records {
		if e.rec.Op != "release" && e.at.After(now.Add(maxClockSkew)) {
			continue
		}
		switch e.rec.Op {
		case "claim":
			if !st.held || !e.at.Before(st.Expires) {
				if st.held && id != "" && st.ID == id {
					ended = fmt.Sprintf("lock ID %s expired at %s without a renewal and %s took the lock under lock ID %s",
						id, stamp(st.Expires), e.rec.Holder, e.rec.ID)
				}
				st = lockState{held: true, LockHolder: LockHolder{
					ID: e.rec.ID, Holder: e.rec.Holder, Host: e.rec.Host, PID: e.rec.PID,
					Since: e.at, Expires: e.at.Add(ttlOf(e.rec)), node: e.rec.Node, start: e.rec.Start,
				}}
			}
		case "renew":
			// Only the live holder's renewal counts: an expired claim stays expired (someone may
			// have started an apply in the meantime), a released one stays released (issue 10).
			if st.held && st.ID == e.rec.ID && e.at.Before(st.Expires) {
				st.Expires = e.at.Add(ttlOf(e.rec))
			}
		case "release":
			if st.held && st.ID == e.rec.ID {
				if id != "" && st.ID == id {
					ended = fmt.Sprintf("lock ID %s was released at %s", id, stamp(e.at))
					if e.rec.Reason != "" {
						ended += " (" + e.rec.Reason + ")"
					}
				}
				st = lockState{}
			}
		}
	}
	if st.held && !now.Before(st.Expires) {
		if id != "" && st.ID == id {
			ended = fmt.Sprintf("lock ID %s expired at %s without a renewal", id, stamp(st.Expires))
		}
		// Expired: the next claim wins, so to a reader the lock is free.
		return lockState{}, ended
	}
	if id != "" && (!st.held || st.ID != id) && ended == "" {
		ended = fmt.Sprintf("lock ID %s does not hold the lock", id)
	}
	return st, ended
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// lockEntry is a decoded record with its log position and timestamp.
type lockEntry struct {
	offset int64
	at     time.Time
	rec    lockRecord
}

// lease is a held apply lock.
type lease struct {
	a   *Admin
	id  string
	ttl time.Duration
}

// Release appends the release record; a lease that already expired and was taken over is left to
// its new holder (the release names only this claim). It runs in its own bounded context, detached
// from ctx's cancellation: an interrupted apply must still free the lock rather than block every
// other apply until the TTL passes (issue 10 item 3).
func (l *lease) Release(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseIOTimeout)
	defer cancel()
	_, err := l.a.appendLock(rctx, lockRecord{Op: "release", ID: l.id})
	return err
}

// Renew appends a renew record, extending the claim to the renew's timestamp plus the TTL, reads
// the log up to it and replays it. When the claim no longer holds the lock — released by
// `avatar-sync unlock` or a takeover, or expired and perhaps taken by another apply — it returns an
// error matching reconcile.ErrLeaseLost that says which; the renew record then changes nothing.
// Bounded by ctx and leaseIOTimeout.
func (l *lease) Renew(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, leaseIOTimeout)
	defer cancel()
	leader, ok, err := l.a.lockLeader(ctx)
	if err != nil {
		return fmt.Errorf("apply lock: renew %s: %w", l.id, err)
	}
	if !ok {
		return fmt.Errorf("%w: the lock topic %s no longer exists", reconcile.ErrLeaseLost, LockTopic)
	}
	off, err := l.a.appendLock(ctx, lockRecord{Op: "renew", ID: l.id, TTLms: l.ttl.Milliseconds()})
	if err != nil {
		return err
	}
	entries, err := l.a.readLock(ctx, leader, off)
	if err != nil {
		return err
	}
	st, ended := replayFor(entries, time.Now(), l.id)
	if st.held && st.ID == l.id {
		return nil
	}
	return fmt.Errorf("%w: %s", reconcile.ErrLeaseLost, ended)
}

// ID is the lease's lock ID (what `avatar-sync unlock` takes).
func (l *lease) ID() string { return l.id }

// AcquireLease takes the cluster-wide apply lock: it appends a claim to the single-partition
// LockTopic, reads the log up to its claim and replays it. The partition's total order makes the
// decision identical for every contender, so two racing applies never both win; the loser gets a
// *reconcile.LeaseHeldError naming the holder, its lock ID and its expiry.
//
// A holder that crashed blocks others until its TTL passes, except on the machine it ran on:
// there a holder whose process is gone is released and the lock taken over at once, and
// Options.Notice is told (issue 10 item 10).
func (a *Admin) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (reconcile.Lease, error) {
	if ttl > MaxLeaseTTL {
		return nil, fmt.Errorf("apply lock: a lease of %s exceeds the maximum of %s; a running apply renews a shorter one", ttl, MaxLeaseTTL)
	}
	// Bounded by the request timeout: the first acquire on a cluster also creates the lock topic.
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	leader, err := a.ensureLockTopic(ctx)
	if err != nil {
		return nil, err
	}
	self := currentProcess()
	// At most three claims: a takeover or a just-expired holder costs one more; a longer chain is
	// unlikely enough that reporting it beats looping.
	for attempt := 0; ; attempt++ {
		id := make([]byte, 12)
		_, _ = rand.Read(id)
		claim := lockRecord{Op: "claim", ID: hex.EncodeToString(id), Holder: holder, TTLms: ttl.Milliseconds(),
			Host: self.host, Node: self.node, PID: self.pid, Start: self.start}
		off, err := a.appendLock(ctx, claim)
		if err != nil {
			return nil, err
		}
		entries, err := a.readLock(ctx, leader, off)
		if err != nil {
			a.abandonClaim(ctx, claim.ID)
			return nil, err
		}
		st := replayLock(entries, time.Now())
		switch {
		case st.held && st.ID == claim.ID:
			return &lease{a: a, id: claim.ID, ttl: ttl}, nil
		case attempt >= 2:
		case !st.held:
			// Our claim came after a holder that has expired since: it lost, but the lock is
			// free now, so claim again.
			continue
		case st.Liveness() == LivenessDead:
			reason := fmt.Sprintf("taken over by %s: holder pid %d on %s is not running", holder, st.PID, st.Host)
			if _, err := a.appendLock(ctx, lockRecord{Op: "release", ID: st.ID, Reason: reason}); err != nil {
				return nil, err
			}
			a.notice(fmt.Sprintf("apply lock %s was held by %s, whose process (pid %d on %s) is no longer running: taking it over", st.ID, st.Holder, st.PID, st.Host))
			continue
		}
		if !st.held {
			return nil, fmt.Errorf("apply lock: lost three claims in a row to holders that expired at once; try again")
		}
		return nil, &reconcile.LeaseHeldError{Holder: st.Holder, Expires: st.Expires, ID: st.ID}
	}
}

// abandonClaim releases a claim whose outcome we could not read, best effort and bounded: if it
// won, nobody else could apply until its TTL passed.
func (a *Admin) abandonClaim(ctx context.Context, id string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseIOTimeout)
	defer cancel()
	_, _ = a.appendLock(rctx, lockRecord{Op: "release", ID: id, Reason: "acquire failed before its outcome was read"})
}

// ApplyLock reads who holds the apply lock (nil when it is free).
func (a *Admin) ApplyLock(ctx context.Context) (*LockHolder, error) {
	ctx, cancel := context.WithTimeout(ctx, leaseIOTimeout)
	defer cancel()
	leader, ok, err := a.lockLeader(ctx)
	if err != nil || !ok {
		return nil, err
	}
	entries, err := a.readLock(ctx, leader, -1)
	if err != nil {
		return nil, err
	}
	st := replayLock(entries, time.Now())
	if !st.held {
		return nil, nil
	}
	return &st.LockHolder, nil
}

// ErrNoSuchLock means unlock named a lock ID that does not hold the apply lock.
var ErrNoSuchLock = errors.New("no such apply lock")

// Unlock releases the claim id on behalf of someone other than its holder (`avatar-sync unlock`),
// recording reason in the log. It fails with ErrNoSuchLock unless id holds the lock right now;
// deciding whether the holder may be released is the caller's job (see LockHolder.Liveness).
func (a *Admin) Unlock(ctx context.Context, id, reason string) error {
	cur, err := a.ApplyLock(ctx)
	if err != nil {
		return err
	}
	if cur == nil || cur.ID != id {
		return noSuchLock(a.name, id, cur)
	}
	ctx, cancel := context.WithTimeout(ctx, leaseIOTimeout)
	defer cancel()
	if _, err := a.appendLock(ctx, lockRecord{Op: "release", ID: id, Reason: reason}); err != nil {
		return err
	}
	return nil
}

func noSuchLock(cluster, id string, cur *LockHolder) error {
	if cur == nil {
		return fmt.Errorf("%w %q on cluster %q: the apply lock is free", ErrNoSuchLock, id, cluster)
	}
	return fmt.Errorf("%w %q on cluster %q: the lock is held by %s under lock ID %s", ErrNoSuchLock, id, cluster, cur.Holder, cur.ID)
}

// lockLeader returns the broker leading the lock partition; ok=false when the topic does not exist.
func (a *Admin) lockLeader(ctx context.Context) (*sarama.Broker, bool, error) {
	md, err := a.topicMetadata(ctx, []string{LockTopic})
	if err != nil {
		return nil, false, err
	}
	id, ok := partitionLeader(md, LockTopic)
	if !ok {
		return nil, false, nil
	}
	a.learn(md)
	if id < 0 {
		return nil, false, fmt.Errorf("cluster %q: the apply lock topic %s has no leader (its broker is down or being elected); retry in a moment", a.name, LockTopic)
	}
	b, err := a.broker(ctx, id)
	return b, err == nil, err
}

// ensureLockTopic creates the lock topic once — one partition (the ordering is the point), as many
// replicas as the cluster allows up to 3, never deleted by retention, broker timestamps — and
// returns its partition's leader.
func (a *Admin) ensureLockTopic(ctx context.Context) (*sarama.Broker, error) {
	if b, ok, err := a.lockLeader(ctx); err != nil || ok {
		return b, err
	}
	md, err := a.topicMetadata(ctx, nil)
	if err != nil {
		return nil, err
	}
	rf := min(3, len(md.Brokers))
	out, err := a.CreateTopics(ctx, []spec.Topic{{
		Name: LockTopic, Partitions: 1, ReplicationFactor: rf,
		Config: map[string]string{"retention.ms": "-1", "cleanup.policy": "delete", "message.timestamp.type": "LogAppendTime"},
	}})
	if err != nil {
		return nil, fmt.Errorf("create apply lock topic: %w", err)
	}
	if err := out[LockTopic]; err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return nil, fmt.Errorf("create apply lock topic %s: %w", LockTopic, err)
	}
	b, ok, err := a.lockLeader(ctx)
	if err == nil && !ok {
		err = fmt.Errorf("apply lock topic %s has no leader yet", LockTopic)
	}
	return b, err
}

// appendLock writes one record to the lock partition and returns its offset.
func (a *Admin) appendLock(ctx context.Context, r lockRecord) (int64, error) {
	val, _ := json.Marshal(r)
	return call(ctx, func() (int64, error) {
		p, err := sarama.NewSyncProducerFromClient(a.client)
		if err != nil {
			return 0, fmt.Errorf("apply lock: %w", err)
		}
		defer p.Close()
		_, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: LockTopic, Partition: 0, Key: sarama.StringEncoder("lock"), Value: sarama.ByteEncoder(val)})
		if err != nil {
			return 0, fmt.Errorf("apply lock: write %s record: %w", r.Op, err)
		}
		return off, nil
	})
}

// readLock reads the lock log from its start through offset upTo (-1 = through the high-water
// mark) with plain Fetch requests that never wait on the broker: MaxWaitTime 0 and MinBytes 0
// answer at once with what is there. A consumer's long poll (sarama's default MaxWaitTime of
// 500 ms) cost every apply ~0.6 s (issue 9).
func (a *Admin) readLock(ctx context.Context, leader *sarama.Broker, upTo int64) ([]lockEntry, error) {
	const maxBytes = 4 << 20
	var (
		out  []lockEntry
		next int64
	)
	for empty := 0; ; {
		req := &sarama.FetchRequest{Version: 4, MaxWaitTime: 0, MinBytes: 0, MaxBytes: maxBytes, Isolation: sarama.ReadUncommitted}
		req.AddBlock(LockTopic, 0, next, maxBytes, -1)
		resp, err := call(ctx, func() (*sarama.FetchResponse, error) { return leader.Fetch(req) })
		if err != nil {
			return nil, fmt.Errorf("apply lock: read %s: %w", LockTopic, err)
		}
		blk := resp.GetBlock(LockTopic, 0)
		if blk == nil {
			return nil, fmt.Errorf("apply lock: read %s: the broker returned no data for partition 0", LockTopic)
		}
		if errors.Is(blk.Err, sarama.ErrOffsetOutOfRange) && next < blk.LogStartOffset {
			next = blk.LogStartOffset // records removed from the front: the log starts later
			continue
		}
		if blk.Err != sarama.ErrNoError {
			return nil, fmt.Errorf("apply lock: read %s: %w", LockTopic, kafkaErr(blk.Err, nil))
		}
		if upTo < 0 {
			upTo = blk.HighWaterMarkOffset - 1
		}
		before := next
		for _, recs := range blk.RecordsSet {
			batch := recs.RecordBatch
			if batch == nil || batch.Control {
				if batch != nil {
					next = max(next, batch.LastOffset()+1)
				}
				continue
			}
			for _, r := range batch.Records {
				off := batch.FirstOffset + r.OffsetDelta
				if off < next || off > upTo {
					continue
				}
				at := batch.FirstTimestamp.Add(r.TimestampDelta)
				if batch.LogAppendTime {
					at = batch.MaxTimestamp
				}
				var rec lockRecord
				if json.Unmarshal(r.Value, &rec) == nil {
					out = append(out, lockEntry{offset: off, at: at, rec: rec})
				}
				next = off + 1
			}
		}
		if next > upTo {
			return out, nil
		}
		if next == before {
			// The claim was acknowledged by all replicas, so it is below the high-water mark;
			// an empty answer can only be a leader catching up. Retry a few times, briefly.
			if empty++; empty > 50 {
				return nil, fmt.Errorf("apply lock: read %s: offset %d not readable (high-water mark %d)", LockTopic, next, blk.HighWaterMarkOffset)
			}
			if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
				return nil, fmt.Errorf("apply lock: read %s up to offset %d: %w", LockTopic, upTo, err)
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// notice tells the user something that is not an error, when the caller asked to hear it.
func (a *Admin) notice(msg string) {
	if a.noticeFn != nil {
		a.noticeFn(msg)
	}
}

// process identifies a running process well enough to tell, later and on the same machine,
// whether it is still running.
type process struct {
	host  string
	node  string // boot id + pid namespace: pids are comparable only within one
	pid   int
	start uint64
}

func currentProcess() process {
	host, _ := os.Hostname()
	p := process{host: host, pid: os.Getpid()}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, nerr := os.Readlink("/proc/self/ns/pid")
	if err == nil && nerr == nil {
		p.node = strings.TrimSpace(string(boot)) + "/" + ns
	}
	p.start, _ = processStart(p.pid)
	return p
}

// processStart reads a process's start time (field 22 of /proc/PID/stat, clock ticks since boot);
// os.ErrNotExist when no such process runs. A zombie (killed, not yet reaped by its parent) counts
// as not running: it will never release the lock.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	if state := fields[0]; state == "Z" || state == "X" {
		return 0, fmt.Errorf("process %d has exited (state %s): %w", pid, state, os.ErrNotExist)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
