package devices_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/plugins/devices"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// BenchmarkPreflightTellos measures a preflight of a lab with 20 drones answering on loopback:
// the cost avatar-sync itself adds (sockets, goroutines, parsing) on top of the radio. Run with
// `make bench`; kept out of `make test`.
func BenchmarkPreflightTellos(b *testing.B) {
	var devs []spec.Device
	for i := range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer pc.Close()
		go func() {
			buf := make([]byte, 64)
			for { // ends when the benchmark closes pc
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				reply := "ok"
				if string(buf[:n]) == "battery?" {
					reply = "88"
				}
				_, _ = pc.WriteTo([]byte(reply), from)
			}
		}()
		devs = append(devs, spec.Device{Name: fmt.Sprintf("tello-%d", i), Kind: "tello", Address: pc.LocalAddr().String(), Required: true, Timeout: 3 * time.Second})
	}
	reg := devices.NewRegistry()
	b.ResetTimer()
	for b.Loop() {
		rep, err := reconcile.Preflight(context.Background(), devs, reg)
		if err != nil || !rep.OK() {
			b.Fatalf("preflight: %v %+v", err, rep.Failures())
		}
	}
}
