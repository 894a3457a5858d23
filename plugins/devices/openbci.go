package devices

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/avatar-project/avatar-sync/internal/printable"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

var wifiSchema = schema{
	{name: "channels", typ: paramInt, min: 1, max: 32}, // require this channel count (8 Cyton, 16 Cyton+Daisy, 4 Ganglion)
}

// OpenBCIWiFi probes an OpenBCI WiFi Shield through its HTTP API: GET /board answers whether a
// Cyton or Ganglion is attached, its type and channel count.
type OpenBCIWiFi struct{}

var _ reconcile.Checker = OpenBCIWiFi{}

// Name is the kind OpenBCIWiFi serves.
func (OpenBCIWiFi) Name() string { return "openbci-wifi" }

// Validate checks the address (port defaults to 80) and params.
func (OpenBCIWiFi) Validate(_ context.Context, d spec.Device) spec.Diagnostics {
	return append(validateAddress(d, 80), wifiSchema.validate(d)...)
}

// boardInfo is the shield's GET /board answer (fields we use).
type boardInfo struct {
	BoardConnected *bool  `json:"board_connected"`
	BoardType      string `json:"board_type"`
	NumChannels    int    `json:"num_channels"`
}

// Check asks the shield which board it carries.
func (OpenBCIWiFi) Check(ctx context.Context, d spec.Device) (reconcile.CheckResult, error) {
	host, port, err := splitAddress(d.Address, 80)
	if err != nil {
		return reconcile.CheckResult{}, err
	}
	target := "http://" + joinAddress(host, port) + "/board"
	code, status, body, lat, err := httpGet(ctx, target, false)
	if err != nil {
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf(
			"GET /board: %s — is the shield powered and the laptop on its network (OpenBCI-xxxx access point or the lab Wi-Fi)?",
			describeHTTPErr(err, d.Timeout))}, nil
	}
	switch {
	case code >= 500:
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf(
			"GET /board answered %s — power-cycle the shield", status)}, nil
	case code != http.StatusOK:
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf(
			"GET /board answered %s — something answers at this address but it is not an OpenBCI WiFi Shield; check the address", status)}, nil
	}
	var info boardInfo
	if err := json.Unmarshal(body, &info); err != nil || info.BoardConnected == nil {
		return reconcile.CheckResult{Latency: lat, Detail: fmt.Sprintf(
			"GET /board did not answer the shield's JSON (began %q) — is this an OpenBCI WiFi Shield?", head(body, 40))}, nil
	}
	res := reconcile.CheckResult{Latency: lat, Facts: map[string]string{
		"boardConnected": strconv.FormatBool(*info.BoardConnected),
	}}
	if !*info.BoardConnected {
		res.Detail = "the shield answers but no board is connected — switch the Cyton/Ganglion on (PC position) and reseat the shield"
		return res, nil
	}
	board := printable.Line(info.BoardType)
	if board == "" {
		board = "unknown"
	}
	res.Facts["board"] = board
	res.Facts["channels"] = strconv.Itoa(info.NumChannels)
	res.Detail = fmt.Sprintf("%s board, %d channels", board, info.NumChannels)
	if want := paramNumber(d, "channels", 0); want != 0 && want != info.NumChannels {
		res.Detail += fmt.Sprintf(", want %d — is the Daisy module attached as the spec expects?", want)
		return res, nil
	}
	res.OK = true
	return res, nil
}
