package clusters

import (
	"sync"
	"testing"

	"github.com/IBM/sarama"
)

// TestConcurrentOpensAllConnect: Describe reads the inventory and the access control at once,
// both on the inventory leader's connection, so two goroutines may open one broker together.
// sarama marks a broker opened before its dial holds the broker's lock, so the loser of that race
// used to see neither a connection nor an error and went on to fail its request with "broker not
// connected" (seen on a no-op plan of 10,000 topics, issue 23).
func TestConcurrentOpensAllConnect(t *testing.T) {
	e, a := startTest(t)
	addr := e.Bootstrap()[0]
	for round := 0; round < 200; round++ {
		b := sarama.NewBroker(addr)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				ob, err := a.open(testCtx(t), b)
				if err != nil {
					errs <- err
					return
				}
				if ok, err := ob.Connected(); !ok || err != nil {
					t.Errorf("round %d: open returned a broker that is not connected (err %v)", round, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		_ = b.Close()
		if t.Failed() {
			return
		}
	}
}
