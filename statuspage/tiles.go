package statuspage

import (
	"fmt"
	"strings"
)

// Level is a tile's verdict.
type Level string

// The three verdicts, worst last.
const (
	OK      Level = "ok"
	Warning Level = "warning"
	Failing Level = "failing"
)

// Tile is one concern at a glance: its verdict and the one-line reason.
type Tile struct {
	ID     string // kafka, kubernetes, devices, spec
	Title  string
	Level  Level
	Reason string
}

// Tiles decides the at-a-glance row from the page's data: Kafka, Kubernetes (when the target has
// it), devices and spec/revision. Pure, so each rule is table-tested.
func Tiles(d Data) []Tile {
	tiles := []Tile{kafkaTile(d)}
	if d.Kubernetes != nil {
		tiles = append(tiles, kubeTile(d))
	}
	return append(tiles, devicesTile(d), specTile(d))
}

func kafkaTile(d Data) Tile {
	t := Tile{ID: "kafka", Title: "Kafka"}
	h := d.Health
	switch {
	case h == nil && d.HealthError != "":
		t.Level, t.Reason = Failing, "cannot read the cluster: "+firstLine(d.HealthError)
	case h == nil:
		t.Level, t.Reason = Warning, "not read yet"
	case !h.Healthy:
		t.Level, t.Reason = Failing, firstLine(h.Problems[0])
		if n := len(h.Problems); n > 1 {
			t.Reason += fmt.Sprintf(" (+%d more)", n-1)
		}
	default:
		up := 0
		for _, b := range h.Brokers {
			if b.State == "up" {
				up++
			}
		}
		var lag int64
		for _, g := range h.Groups {
			lag += g.Lag
		}
		t.Level = OK
		t.Reason = fmt.Sprintf("%d/%d brokers up, %d partitions, lag %d", up, len(h.Brokers), h.Summary.Partitions, lag)
		if len(h.Warnings) > 0 {
			t.Level, t.Reason = Warning, firstLine(h.Warnings[0])
		}
	}
	return t
}

func kubeTile(d Data) Tile {
	k := d.Kubernetes
	t := Tile{ID: "kubernetes", Title: "Kubernetes"}
	ready := 0
	for _, s := range k.StatefulSets {
		if s.Ready >= s.Desired && !s.Rollout {
			ready++
		}
	}
	switch {
	case k.Error != "":
		t.Level, t.Reason = Failing, "cannot read: "+firstLine(k.Error)
	case ready < len(k.StatefulSets):
		for _, s := range k.StatefulSets {
			if s.Ready < s.Desired || s.Rollout {
				t.Level = Failing
				t.Reason = fmt.Sprintf("%s %d/%d ready", s.Name, s.Ready, s.Desired)
				if s.Rollout {
					t.Level, t.Reason = Warning, t.Reason+", rollout in progress"
				}
				break
			}
		}
	case len(k.Drift) > 0:
		t.Level = Warning
		verb := "healing"
		if k.Mode == "report" {
			verb = "reported, not healed"
		}
		t.Reason = fmt.Sprintf("%d field(s) drifting (%s/%s %s), %s", len(k.Drift), k.Drift[0].Kind, k.Drift[0].Name, k.Drift[0].Field, verb)
	default:
		t.Level, t.Reason = OK, fmt.Sprintf("%d/%d StatefulSets ready, no drift", ready, len(k.StatefulSets))
	}
	return t
}

func devicesTile(d Data) Tile {
	t := Tile{ID: "devices", Title: "Devices"}
	if d.Devices == nil {
		if d.NoDevices {
			t.Level, t.Reason = OK, "the spec declares no devices"
		} else {
			t.Level, t.Reason = Warning, "not probed yet"
		}
		return t
	}
	var required, optional []string
	for _, dev := range d.Devices {
		if !dev.OK && dev.Required {
			required = append(required, dev.Name)
		} else if !dev.OK {
			optional = append(optional, dev.Name)
		}
	}
	answering := len(d.Devices) - len(required) - len(optional)
	switch {
	case len(required) > 0:
		t.Level, t.Reason = Failing, "required "+strings.Join(required, ", ")+" not answering"
	case len(optional) > 0:
		t.Level, t.Reason = Warning, strings.Join(optional, ", ")+" not answering"
	default:
		t.Level, t.Reason = OK, fmt.Sprintf("%d/%d answer", answering, len(d.Devices))
	}
	return t
}

func specTile(d Data) Tile {
	t := Tile{ID: "spec", Title: "Spec"}
	inForce, failed := d.InForce, d.Failed
	switch {
	case failed != nil:
		t.Level = Failing
		t.Reason = "revision " + failed.Revision + " failed: " + firstLine(failed.Error)
		if inForce != nil {
			t.Reason += "; " + inForce.Revision + " stays in force"
		}
	case inForce == nil:
		t.Level, t.Reason = Warning, "no pass has succeeded yet"
	case d.Pending > 0 && (d.LastPass == nil || !d.LastPass.InSync):
		t.Level, t.Reason = Warning, fmt.Sprintf("%s in force, %d change(s) pending", inForce.Revision, d.Pending)
	default:
		t.Level, t.Reason = OK, inForce.Revision+" in force, in sync"
	}
	return t
}

// firstLine makes a reason of a message: its lines joined ("spec is invalid:\n  a.yaml:3:1: …"
// reads as one sentence), cut at 160 characters.
func firstLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 160 {
		s = string(r[:157]) + "…"
	}
	return s
}
