// Command fakeplugin is an external device plugin for tests. It speaks protocol
// avatar-sync.device/v1 well or badly, as the request's "mode" param asks. For op "validate" the
// "validate" param picks the behaviour instead; without it the plugin ignores op, like a plugin
// written before validate existed, and answers as for check.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

const protocol = "avatar-sync.device/v1"

type request struct {
	Protocol  string `json:"protocol"`
	Op        string `json:"op"`
	TimeoutMs int64  `json:"timeoutMs"`
	Device    struct {
		Name     string            `json:"name"`
		Kind     string            `json:"kind"`
		Address  string            `json:"address"`
		Required bool              `json:"required"`
		Timeout  string            `json:"timeout"`
		Params   map[string]string `json:"params"`
	} `json:"device"`
}

func answer(v any) {
	_ = json.NewEncoder(os.Stdout).Encode(v)
}

func main() {
	if os.Getenv("FAKEPLUGIN_CHILD") != "" {
		// A grandchild holding stdout open: only a process-group kill ends it.
		time.Sleep(time.Hour)
		return
	}
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "fakeplugin: bad request:", err)
		os.Exit(4)
	}
	mode := req.Device.Params["mode"]
	if v := req.Device.Params["validate"]; req.Op == "validate" && v != "" {
		mode = v
	}
	switch mode {
	case "env":
		// Appends its whole environment to the envfile param, for the tests that prove no
		// secret reaches a plugin.
		f, err := os.OpenFile(req.Device.Params["envfile"], os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(6)
		}
		for _, kv := range os.Environ() {
			fmt.Fprintf(f, "%s %s\n", req.Op, kv)
		}
		_ = f.Close()
		if req.Op == "validate" {
			answer(map[string]any{"protocol": protocol, "diagnostics": []any{}})
		} else {
			answer(map[string]any{"protocol": protocol, "findings": []map[string]any{{"ok": true, "message": "environment written"}}})
		}
	case "valid":
		answer(map[string]any{"protocol": protocol, "diagnostics": []any{}})
	case "diags":
		answer(map[string]any{"protocol": protocol, "diagnostics": []map[string]any{
			{"param": "rate", "severity": "warning", "message": "rate: 5Hz is slow\nfor a lidar"},
			{"param": "colour", "message": `unknown parameter "colour" (did you mean "color"?)`},
			{"param": "ghost", "severity": "error", "message": "is required"},
			{"severity": "info", "message": "address: use a host name the lab DNS knows"},
		}})
	case "unsupported":
		answer(map[string]any{"protocol": protocol, "unsupported": true})
	case "unknownop":
		answer(map[string]any{"protocol": protocol, "error": fmt.Sprintf("unknown op %q", req.Op)})
	case "unknownop-exit1":
		answer(map[string]any{"protocol": protocol, "error": fmt.Sprintf("unknown op %q", req.Op)})
		os.Exit(1)
	case "cannot":
		answer(map[string]any{"protocol": protocol, "error": "calibration table /etc/lidar.cal is unreadable"})
	case "good":
		answer(map[string]any{
			"protocol": protocol,
			"findings": []map[string]any{{"ok": true, "message": "sensor answered"}, {"ok": true, "message": "firmware 2.1"}},
			"facts": map[string]string{
				"name": req.Device.Name, "kind": req.Device.Kind, "address": req.Device.Address,
				"timeoutMs": strconv.FormatInt(req.TimeoutMs, 10), "timeout": req.Device.Timeout,
				"op": req.Op, "protocol": req.Protocol, "required": strconv.FormatBool(req.Device.Required),
				"env": os.Getenv("AVATAR_SYNC_PLUGIN_PROTOCOL"),
			},
			"latencyMs": 12.5,
		})
	case "fail":
		answer(map[string]any{
			"protocol": protocol,
			"findings": []map[string]any{{"ok": true, "message": "sensor answered"}, {"ok": false, "message": "lens dirty"}, {"ok": false, "message": "battery 5%"}},
		})
	case "hang":
		fmt.Fprintln(os.Stderr, "fakeplugin: waiting for a sensor that never answers")
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), "FAKEPLUGIN_CHILD=1")
		child.Stdout = os.Stdout
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(5)
		}
		if pf := req.Device.Params["selfpidfile"]; pf != "" {
			_ = os.WriteFile(pf, []byte(strconv.Itoa(os.Getpid())), 0o600)
		}
		if pf := req.Device.Params["pidfile"]; pf != "" {
			_ = os.WriteFile(pf, []byte(strconv.Itoa(child.Process.Pid)), 0o600)
		}
		time.Sleep(time.Hour)
	case "crash":
		debug.SetTraceback("crash") // panic ends in SIGABRT, like a C plugin's segfault
		panic("sensor table corrupted")
	case "exit3":
		fmt.Fprintln(os.Stderr, "fakeplugin: cannot open /dev/ttyACM0: permission denied")
		os.Exit(3)
	case "badjson":
		fmt.Println("battery=87 OK")
	case "empty":
	case "extra":
		answer(map[string]any{"protocol": protocol, "findings": []map[string]any{{"ok": true, "message": "a"}}})
		answer(map[string]any{"protocol": protocol, "findings": []map[string]any{{"ok": true, "message": "b"}}})
	case "wrongproto":
		answer(map[string]any{"protocol": "avatar-sync.device/v2", "findings": []map[string]any{{"ok": true, "message": "a"}}})
	case "nofindings":
		answer(map[string]any{"protocol": protocol})
	case "error":
		answer(map[string]any{"protocol": protocol, "error": "bluetooth adapter missing"})
	case "chatty":
		line := strings.Repeat("x", 1023) + "\n"
		for range 3 << 10 { // 3 MiB
			if _, err := os.Stdout.WriteString(line); err != nil {
				os.Exit(6)
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "fakeplugin: unknown mode %q\n", req.Device.Params["mode"])
		os.Exit(7)
	}
}
