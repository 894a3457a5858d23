package statuspage

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/health"
)

// HistoryWindow is how far back the charts reach.
const HistoryWindow = time.Hour

// Point is one sample of a series.
type Point struct {
	At    time.Time
	Value float64
}

// History keeps, for the last HistoryWindow, each consumer group's lag and each topic's
// messages/s in: the series the page charts and /metrics exports. It lives in memory (a restart
// starts new charts; Prometheus keeps the long history).
type History struct {
	Lag      map[string][]Point // by group
	Messages map[string][]Point // by topic
}

// Add records a report's lags and rates at its time and drops points older than the window.
func (h *History) Add(r health.Report) {
	if h.Lag == nil {
		h.Lag, h.Messages = map[string][]Point{}, map[string][]Point{}
	}
	for _, g := range r.Groups {
		h.Lag[g.Name] = append(h.Lag[g.Name], Point{r.Time, float64(g.Lag)})
	}
	for _, t := range r.Topics {
		if t.MessagesPerSec != nil {
			h.Messages[t.Name] = append(h.Messages[t.Name], Point{r.Time, *t.MessagesPerSec})
		}
	}
	cut := r.Time.Add(-HistoryWindow)
	for _, m := range []map[string][]Point{h.Lag, h.Messages} {
		for k, ps := range m {
			i := sort.Search(len(ps), func(i int) bool { return !ps[i].At.Before(cut) })
			if i == len(ps) {
				delete(m, k)
				continue
			}
			m[k] = ps[i:]
		}
	}
}

// Copy returns a copy safe to render while Add goes on.
func (h *History) Copy() History {
	out := History{Lag: map[string][]Point{}, Messages: map[string][]Point{}}
	for k, ps := range h.Lag {
		out.Lag[k] = append([]Point(nil), ps...)
	}
	for k, ps := range h.Messages {
		out.Messages[k] = append([]Point(nil), ps...)
	}
	return out
}

// Chart is a series drawn for the page.
type Chart struct {
	Name   string
	Points int
	Last   float64
	Max    float64
	Span   time.Duration // the time the x axis spans
	SVG    template.HTML
}

// Charts draws every series of m, sorted by name.
func Charts(m map[string][]Point, now time.Time, w, h int, unit string) []Chart {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]Chart, 0, len(names))
	for _, n := range names {
		out = append(out, drawChart(n, m[n], now, w, h, unit))
	}
	return out
}

// drawChart renders a series as an inline SVG line ending at now, scaled from 0 to the series'
// maximum. Only numbers the code computes go into the markup; the
// series name is rendered by the template (escaped) beside it, and the SVG's accessible label
// is built from numbers only.
func drawChart(name string, ps []Point, now time.Time, w, h int, unit string) Chart {
	c := Chart{Name: name, Points: len(ps)}
	for _, p := range ps {
		c.Max = math.Max(c.Max, p.Value)
	}
	if len(ps) > 0 {
		c.Last = ps[len(ps)-1].Value
	}
	top := c.Max
	if top <= 0 {
		top = 1
	}
	// The x axis ends now and spans the series' age, between 10 s and the window: a daemon that
	// started ten minutes ago draws ten minutes across the whole width.
	span := 10 * time.Second
	if len(ps) > 0 {
		span = min(HistoryWindow, max(span, now.Sub(ps[0].At)))
	}
	c.Span = span
	start := now.Add(-span)
	var pts []string
	for _, p := range ps {
		x := float64(w) * p.At.Sub(start).Seconds() / span.Seconds()
		y := float64(h-2) - float64(h-4)*p.Value/top
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", math.Max(0, math.Min(float64(w), x)), y))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="last %s: %d points, latest %s, max %s%s">`,
		w, h, w, h, span.Round(time.Second), len(ps), num(c.Last), num(c.Max), unit)
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%d" x2="%d" y2="%d"/>`, h-1, w, h-1)
	if len(pts) == 1 {
		xy := strings.Split(pts[0], ",")
		fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2"/>`, xy[0], xy[1])
	}
	if len(pts) > 1 {
		fmt.Fprintf(&b, `<polyline points="%s"/>`, strings.Join(pts, " "))
	}
	b.WriteString(`</svg>`)
	c.SVG = template.HTML(b.String()) //nolint:gosec // numbers only, formatted above
	return c
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
