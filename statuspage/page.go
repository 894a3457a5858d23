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
	"time"

	"github.com/avatar-project/avatar-sync/health"
)

// Data is everything the page shows. Zero parts are shown as "not known yet".
type Data struct {
	Cluster  string
	SpecFile string
	// Revision identifies the spec the last pass read (a digest of the file, or a git commit).
	Revision string
	// Now is when the page was rendered; Refresh how often the browser reloads it.
	Now     time.Time
	Refresh time.Duration
	// LastPass is the last finished watch pass (nil before the first).
	LastPass *Pass
	// Pending is the number of changes (drift) the last pass's plan found before applying.
	Pending int
	// Certs are the spec's certificates (nil when tls is off).
	Certs []Cert
	// Devices are the last device check results (nil before the first check).
	Devices []Device
	// Health is the last status read of the cluster; HealthError why it failed.
	Health      *health.Report
	HealthError string
}

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
}

//go:embed page.html.tmpl
var pageSource string

var page = template.Must(template.New("page").Funcs(template.FuncMap{
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

// Render writes the page.
func Render(w io.Writer, d Data) error {
	if d.Refresh <= 0 {
		d.Refresh = 30 * time.Second
	}
	return page.Execute(w, d)
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
