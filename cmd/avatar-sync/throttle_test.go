package main

import (
	"fmt"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// TestThrottleFlagAndFileAgree: --throttle and reassignment.throttle read one syntax (issue 9: the
// flag refused "50mib/s" and "1TB/s", which the file accepted).
func TestThrottleFlagAndFileAgree(t *testing.T) {
	for _, in := range []string{"50mib/s", "50MiB/s", "1TB/s", "2TiB", "10 MB/s", "1048576", "0", "-1", "fast", "5PB/s"} {
		t.Run(in, func(t *testing.T) {
			flag, flagErr := parseRate(in)
			s, diags := spec.Parse("avatar.yaml", fmt.Appendf(nil, `apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: lab }
brokers:
  - { id: 1, host: b1, ports: { plaintext: 9092 } }
topicDefaults: { partitions: 1, replicationFactor: 1 }
topics:
  - { name: t1 }
reassignment: { throttle: %q }
`, in))
			if (flagErr == nil) != (s != nil) {
				t.Fatalf("flag: %d, %v; file: %v", flag, flagErr, diags)
			}
			if s != nil && s.Reassignment.ThrottleBytesPerSec != flag {
				t.Errorf("flag reads %d, file reads %d", flag, s.Reassignment.ThrottleBytesPerSec)
			}
		})
	}
	if n, err := parseRate("50mib/s"); err != nil || n != 50<<20 {
		t.Errorf("--throttle 50mib/s = %d, %v", n, err)
	}
}
