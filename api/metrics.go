package api

import (
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fieldservice/customer-service/eventstore"
	"github.com/fieldservice/customer-service/projections"
)

// Metrics holds what /metrics exposes (Prometheus): request latency by route,
// store append latency, and each projection's checkpoint, lag and rate.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.HistogramVec
	appends  *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// writeErrors counts appends the store failed to write (I/O, a full disk),
	// not refusals such as a concurrent write; lastWriteError is when the
	// latest happened (Unix nanoseconds), for readiness.
	writeErrors    prometheus.Counter
	lastWriteError atomic.Int64
}

// NewMetrics returns a fresh registry with the Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "customerd_http_request_duration_seconds",
			Help:    "HTTP request latency by method, route template and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "status"}),
		appends: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "customerd_store_append_duration_seconds",
			Help:    "Event store append latency (until durable), by outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"outcome"}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "customerd_store_write_errors_total",
			Help: "Appends the event store failed to write: I/O errors and a full disk, not concurrency refusals."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "customerd_http_requests_in_flight",
			Help: "Requests being served now.",
		}),
	}
	m.reg.MustRegister(m.requests, m.appends, m.inFlight, m.writeErrors, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveAppend records one event store append's latency (until durable) and
// outcome: pass it to eventstore.ObserveAppends.
func (m *Metrics) ObserveAppend(d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.appends.WithLabelValues(outcome).Observe(d.Seconds())
	if writeFailure(err) {
		m.writeErrors.Inc()
		m.lastWriteError.Store(time.Now().UnixNano())
	}
}

// writeFailure reports an append the store could not write: an OS error
// under it, not a refusal of its content or its expected version.
func writeFailure(err error) bool {
	return errors.As(err, new(*eventstore.Error)) && errors.As(err, new(syscall.Errno))
}

// lastWriteFailure is when an append last failed to be written; zero if never.
func (m *Metrics) lastWriteFailure() time.Time {
	if n := m.lastWriteError.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// FreeSpace exposes the free space of the data directory, as free reports it.
func (m *Metrics) FreeSpace(free func() (uint64, error)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "customerd_data_free_bytes",
		Help: "Free space of the file system holding the data directory (event log, key file)."},
		func() float64 {
			n, err := free()
			if err != nil {
				return -1
			}
			return float64(n)
		}))
}

// Runners exposes the figures of each projection runner.
func (m *Metrics) Runners(rs ...*projections.Runner) {
	for _, r := range rs {
		labels := prometheus.Labels{"projection": r.Status().Name}
		gauge := func(name, help string, f func(projections.Status) float64) {
			m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
				func() float64 { return f(r.Status()) }))
		}
		gauge("customerd_projection_lag_seconds", "Age of the last projected event while more are queued.",
			func(s projections.Status) float64 { return s.Lag.Seconds() })
		gauge("customerd_projection_queued_events", "Events received and not yet projected.",
			func(s projections.Status) float64 { return float64(s.Queued) })
		gauge("customerd_projection_checkpoint_commit", "Commit part of the position the read model reflects.",
			func(s projections.Status) float64 { return float64(s.Checkpoint.Commit) })
		gauge("customerd_projection_events_per_second", "Recent projection rate.",
			func(s projections.Status) float64 { return s.EventsPerSecond })
		gauge("customerd_projection_running", "1 while the runner is connected and projecting, or following the leader.",
			func(s projections.Status) float64 { return boolFloat(s.Running) })
		gauge("customerd_projection_leader", "1 while this instance holds the read model's lease and projects it.",
			func(s projections.Status) float64 { return boolFloat(s.Leader) })
		gauge("customerd_projection_generation", "Key generation of the read model.",
			func(s projections.Status) float64 { return float64(s.Generation) })
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// observe is the middleware that times requests by route template (never the raw
// path: it may hold ids, and its query personal data).
func (m *Metrics) observe(c *gin.Context) {
	start := time.Now()
	m.inFlight.Inc()
	defer m.inFlight.Dec()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
}
