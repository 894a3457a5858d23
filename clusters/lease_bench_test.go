package clusters

import (
	"context"
	"testing"
	"time"
)

// BenchmarkLease takes and releases the apply lock on a warm embedded cluster (the lock topic
// exists): the fixed cost every apply pays (issue 9). Not part of `make test`:
//
//	go test -run '^$' -bench Lease -benchtime 20x ./clusters/
func BenchmarkLease(b *testing.B) {
	ctx := context.Background()
	a := benchAdmin(b, ctx)
	warm, err := a.AcquireLease(ctx, "warm-up", time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	if err := warm.Release(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		l, err := a.AcquireLease(ctx, "bench", time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLeaseRenew renews a held lease: what a running apply pays every TTL/3 (one Metadata
// request, one produce, the log read up to the renew record). Each iteration grows the log by one
// record, as a long apply does.
//
//	go test -run '^$' -bench LeaseRenew -benchtime 200x ./clusters/
func BenchmarkLeaseRenew(b *testing.B) {
	ctx := context.Background()
	a := benchAdmin(b, ctx)
	l, err := a.AcquireLease(ctx, "bench", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Release(ctx) })
	b.ResetTimer()
	for b.Loop() {
		if err := l.Renew(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// benchAdmin connects to a fresh embedded cluster that lives until the benchmark ends.
func benchAdmin(b *testing.B, ctx context.Context) *Admin {
	b.Helper()
	e, err := StartEmbedded(ctx, testSpec(), EmbeddedOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	a, err := e.Connect(ctx, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	return a
}
