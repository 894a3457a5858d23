// Package statuspage renders the small HTML page `avatar-sync watch --metrics-addr` serves on
// "/" (issue 13): what a lab member wants at a glance on the MicroK8s host. It is server-rendered
// with html/template (every value escaped), needs no JavaScript, and refreshes itself with a
// meta refresh. The page is a pure function of Data; cmd collects Data after each watch pass.
package statuspage

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/avatar-project/avatar-sync/health"
)

// Data is everything the page shows. Zero parts are shown as "not known yet".
type Data struct {
	Cluster  string
	SpecFile string
	// Revision identifies the spec the last pass read (a digest of the file, or a git commit).
	Revision string
	// Now is when the page was rendered; Refresh how often it updates itself.
	Now     time.Time
	Refresh time.Duration
	// LastPass is the last finished watch pass (nil before the first).
	LastPass *Pass
	// Pending is the number of changes (drift) the last pass's plan found before applying.
	Pending int
	// InForce is the newest successful pass (its revision is the one in force); Failed the newest
	// pass when it failed on another revision (nil otherwise). Journal is the last passes, newest
	// last; the page shows the newest JournalShown.
	InForce, Failed *Entry
	Journal         []Entry
	// Certs are the spec's certificates (nil when tls is off).
	Certs []Cert
	// Devices are the last device check results (nil before the first check); NoDevices is true
	// when the spec declares none.
	Devices   []Device
	NoDevices bool
	// Health is the last status read of the cluster; HealthError why it failed.
	Health      *health.Report
	HealthError string
	// Kubernetes is the Kubernetes plane of a target with kubernetes: (nil otherwise).
	Kubernetes *health.KubeReport
	// History is the last hour of lag and messages/s.
	History History
}

// JournalShown is how many passes of the journal the page lists.
const JournalShown = 10

// Pass is one finished watch pass.
type Pass struct {
	At       time.Time
	Duration time.Duration
	Error    string // "" = it succeeded
	Applied  int
	InSync   bool
}

// Cert is one certificate with its days left.
type Cert struct {
	Name     string
	Status   string
	DaysLeft int
	NotAfter time.Time
}

// Device is one device check result.
type Device struct {
	Name     string
	Kind     string
	Required bool
	OK       bool
	Status   string
	Detail   string
	// ProbedAt is when the device was last probed.
	ProbedAt time.Time
}

//go:embed page.html.tmpl
var pageSource string

// page is parsed when a page is first rendered, not when the program starts: every command pays for
// package initialisation, and only watch serves the page (issue 23).
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Funcs(template.FuncMap{
		"ago": func(now, t time.Time) string {
			d := now.Sub(t).Round(time.Second)
			if d < 0 {
				d = 0
			}
			return d.String() + " ago"
		},
		"seconds": func(d time.Duration) int { return int(d.Seconds()) },
		"ms":      func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/1e6) },
		"rate": func(r *float64) string {
			if r == nil {
				return ""
			}
			return fmt.Sprintf("%+.1f/s", *r)
		},
		"bytes":     health.Bytes,
		"retention": health.Retention,
		"perSec":    health.PerSecond,
		"bytesSec":  health.BytesPerSecond,
		"lagChart": func(charts []Chart, name string) *Chart {
			for i := range charts {
				if charts[i].Name == name {
					return &charts[i]
				}
			}
			return nil
		},
		"join": strings.Join,
		"ids": func(ps []int32) string {
			s := ""
			for i, p := range ps {
				if i > 0 {
					s += ", "
				}
				s += fmt.Sprint(p)
			}
			return s
		},
	}).Parse(pageSource))
})

// view is Data with what the template derives from it.
type view struct {
	Data
	Tiles       []Tile
	LagCharts   []Chart
	TopicCharts []Chart
	Recent      []Entry // the journal's newest passes, newest first
}

// Render writes the page.
func Render(w io.Writer, d Data) error {
	if d.Refresh <= 0 {
		d.Refresh = 30 * time.Second
	}
	v := view{Data: d, Tiles: Tiles(d),
		LagCharts:   Charts(d.History.Lag, d.Now, 240, 40, " messages"),
		TopicCharts: Charts(d.History.Messages, d.Now, 240, 40, " messages/s"),
	}
	for i := len(d.Journal) - 1; i >= 0 && len(v.Recent) < JournalShown; i-- {
		v.Recent = append(v.Recent, d.Journal[i])
	}
	return page().Execute(w, v)
}

// Handler serves the page at "/" from data, called once per request.
func Handler(data func() Data) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		var buf bytes.Buffer
		if err := Render(&buf, data()); err != nil {
			http.Error(w, "render status page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
	})
}
