package clusters

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// LockTopic holds the apply lock's log (see docs/operations.md, "Apply lock").
const LockTopic = "__avatar_sync_lock"

// lockRecord is one entry of the lock log.
type lockRecord struct {
	Op     string `json:"op"` // "claim" or "release"
	ID     string `json:"id"` // random per claim; a release names the claim it ends
	Holder string `json:"holder,omitempty"`
	TTLms  int64  `json:"ttlMs,omitempty"`
}

// lockState is the lock as of some offset of the log.
type lockState struct {
	held    bool
	id      string
	holder  string
	expires time.Time
}

// replayLock decides who holds the lock from the log alone, so every reader agrees: a claim wins
// if the lock is free or the current claim has expired at the claim's own (broker-assigned)
// timestamp; a release ends only the claim it names. Pure; the ordering comes from the single
// partition the records live in.
func replayLock(records []lockEntry) lockState {
	var st lockState
	for _, e := range records {
		switch e.rec.Op {
		case "claim":
			if !st.held || !e.at.Before(st.expires) {
				st = lockState{held: true, id: e.rec.ID, holder: e.rec.Holder, expires: e.at.Add(time.Duration(e.rec.TTLms) * time.Millisecond)}
			}
		case "release":
			if st.held && st.id == e.rec.ID {
				st = lockState{}
			}
		}
	}
	return st
}

// lockEntry is a decoded record with its log position and timestamp.
type lockEntry struct {
	offset int64
	at     time.Time
	rec    lockRecord
}

// lease is a held apply lock.
type lease struct {
	a  *Admin
	id string
}

// Release appends the release record; a lease that already expired and was taken over is left to
// its new holder (the release names only this claim).
func (l *lease) Release(ctx context.Context) error {
	_, err := l.a.appendLock(ctx, lockRecord{Op: "release", ID: l.id})
	return err
}

// AcquireLease takes the cluster-wide apply lock: it appends a claim to the single-partition
// LockTopic, reads the log up to its claim and replays it. The partition's total order makes the
// decision identical for every contender, so two racing applies never both win; the loser gets a
// *reconcile.LeaseHeldError naming the holder and its expiry. A holder that crashes blocks others
// only until its TTL passes.
func (a *Admin) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (reconcile.Lease, error) {
	if err := a.ensureLockTopic(ctx); err != nil {
		return nil, err
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	claim := lockRecord{Op: "claim", ID: hex.EncodeToString(id), Holder: holder, TTLms: ttl.Milliseconds()}
	off, err := a.appendLock(ctx, claim)
	if err != nil {
		return nil, err
	}
	entries, err := a.readLock(ctx, off)
	if err != nil {
		return nil, err
	}
	st := replayLock(entries)
	if st.held && st.id == claim.ID {
		return &lease{a: a, id: claim.ID}, nil
	}
	return nil, &reconcile.LeaseHeldError{Holder: st.holder, Expires: st.expires}
}

// ensureLockTopic creates the lock topic once: one partition (the ordering is the point), as many
// replicas as the cluster allows up to 3, never deleted by retention, broker timestamps.
func (a *Admin) ensureLockTopic(ctx context.Context) error {
	md, err := a.topicMetadata(ctx, []string{LockTopic})
	if err != nil {
		return err
	}
	for _, t := range md.Topics {
		if t.Name == LockTopic && t.Err == sarama.ErrNoError {
			return nil
		}
	}
	rf := min(3, len(md.Brokers))
	out, err := a.CreateTopics(ctx, []spec.Topic{{
		Name: LockTopic, Partitions: 1, ReplicationFactor: rf,
		Config: map[string]string{"retention.ms": "-1", "cleanup.policy": "delete", "message.timestamp.type": "LogAppendTime"},
	}})
	if err != nil {
		return fmt.Errorf("create apply lock topic: %w", err)
	}
	if err := out[LockTopic]; err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return fmt.Errorf("create apply lock topic %s: %w", LockTopic, err)
	}
	return a.awaitTopics(ctx, []string{LockTopic}, true)
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

// readLock reads the lock log from the start through offset upTo.
func (a *Admin) readLock(ctx context.Context, upTo int64) ([]lockEntry, error) {
	c, err := sarama.NewConsumerFromClient(a.client)
	if err != nil {
		return nil, fmt.Errorf("apply lock: %w", err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(LockTopic, 0, sarama.OffsetOldest)
	if err != nil {
		return nil, fmt.Errorf("apply lock: read %s: %w", LockTopic, err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	var out []lockEntry
	for {
		select {
		case m := <-pc.Messages():
			var r lockRecord
			if json.Unmarshal(m.Value, &r) == nil {
				out = append(out, lockEntry{offset: m.Offset, at: m.Timestamp, rec: r})
			}
			if m.Offset >= upTo {
				return out, nil
			}
		case err := <-pc.Errors():
			return nil, fmt.Errorf("apply lock: read %s: %w", LockTopic, err)
		case <-ctx.Done():
			return nil, fmt.Errorf("apply lock: read %s up to offset %d: %w", LockTopic, upTo, ctx.Err())
		}
	}
}
