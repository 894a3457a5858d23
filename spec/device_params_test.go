package spec

import "testing"

// TestDeviceParamsNotTypos loads devices whose documented plugin parameters look a little like the
// common device keys; each must reach the plugin as a parameter, not be refused as a typo. "send"
// (the udp kind's datagram) was once taken for a misspelt "kind".
func TestDeviceParamsNotTypos(t *testing.T) {
	tests := map[string]struct {
		device, param, value string
	}{
		"udp send":        {`{ name: d, kind: udp, address: "127.0.0.1:9", send: command, expect: ok }`, "send", "command"},
		"serial path":     {`{ name: d, kind: openbci-serial, address: /dev/ttyUSB0, path: /dev/ttyACM0 }`, "path", "/dev/ttyACM0"},
		"serial baud":     {`{ name: d, kind: openbci-serial, address: /dev/ttyUSB0, baud: 9600 }`, "baud", "9600"},
		"serial probe":    {`{ name: d, kind: openbci-serial, address: /dev/ttyUSB0, probe: true }`, "probe", "true"},
		"external node":   {`{ name: d, kind: lidar, address: "127.0.0.1:9", node: 3 }`, "node", "3"},
		"external mode":   {`{ name: d, kind: lidar, address: "127.0.0.1:9", mode: fast }`, "mode", "fast"},
		"http insecure":   {`{ name: d, kind: http, address: "127.0.0.1:9", insecure: true }`, "insecure", "true"},
		"tello stateTime": {`{ name: d, kind: tello, address: "127.0.0.1:9", stateTimeout: 2s }`, "stateTimeout", "2s"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := "apiVersion: avatar-sync/v1\nkind: KafkaCluster\nmetadata: { name: lab }\n" +
				"brokers:\n  - { id: 1, host: b1, ports: { plaintext: 9092 } }\ndevices:\n  - " + tc.device + "\n"
			s, diags := Parse("avatar.yaml", []byte(src))
			if s == nil {
				t.Fatalf("refused:\n%v", diags)
			}
			if got := s.Devices[0].Params[tc.param]; got != tc.value {
				t.Errorf("Params[%q] = %q, want %q", tc.param, got, tc.value)
			}
		})
	}
}
