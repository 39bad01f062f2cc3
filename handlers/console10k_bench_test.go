//go:build unix

package handlers

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkConsole10000x10 is issue 20's console benchmark: every page of
// the console over 10,000 virtual servers x 10 real servers, with the
// engine's table, rates and health verdicts as serve gives them (see
// console10000x10), requested over HTTP as a logged-in admin. Each page
// reports its p50 and p99 (target: p99 under 100 ms) and its size; the
// last sub-benchmark reports the process's resident memory (target: under
// 300 MB) and the Go heap. Run it with -benchtime=50x.
func BenchmarkConsole10000x10(b *testing.B) {
	c, srv, st, cfg := console10000x10(b)
	e := &testEnv{store: st, console: c, srv: srv}
	client := e.login(b)
	vs := &cfg.Virtuals[4000]
	down := &cfg.Virtuals[100] // rs9 down
	pages := []struct{ name, path string }{
		{"control", "/control"},
		{"ipvs", "/control/ipvs"},
		{"ipvs-page-100", "/control/ipvs?page=100"},
		{"ipvs-search", "/control/ipvs?q=10.3.20.7"},
		{"virtual", "/virtual"},
		{"virtual-page-100", "/virtual?page=100"},
		{"virtual-search", "/virtual?q=vs0999"},
		{"virtual-down", "/virtual?state=down&page=2"},
		{"virtual-edit", fmt.Sprintf("/virtual/%d", vs.ID)},
		{"scripts", fmt.Sprintf("/virtual/%d/scripts", vs.ID)},
		{"real", fmt.Sprintf("/virtual/%d/real", vs.ID)},
		{"real-down", fmt.Sprintf("/virtual/%d/real?state=down", down.ID)},
		{"real-edit", fmt.Sprintf("/virtual/%d/real/%d", vs.ID, vs.Reals[3].ID)},
		{"global", "/global"},
		{"redundancy", "/redundancy"},
		{"history", "/history"},
		{"review", "/review"},
	}
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
			var times []time.Duration
			var size int64
			cpu := cpuTime(b)
			for b.Loop() {
				start := time.Now()
				resp, err := client.Get(srv.URL + pg.path)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %s", pg.path, resp.Status)
				}
				times = append(times, time.Since(start))
				size = n
			}
			reportTimes(b, times)
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(len(times)), "cpu-ms/op")
			b.ReportMetric(float64(size)/1024, "page-kB")
		})
	}
	b.Run("update", func(b *testing.B) {
		var times []time.Duration
		buf := new(bytes.Buffer)
		cpu := cpuTime(b)
		for b.Loop() {
			buf.Reset()
			start := time.Now()
			if err := c.writeUpdate(context.Background(), buf); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(start))
		}
		reportTimes(b, times)
		b.ReportMetric(float64(cpuTime(b)-cpu)/float64(time.Millisecond)/float64(len(times)), "cpu-ms/op")
		b.ReportMetric(float64(buf.Len())/1024, "event-kB")
	})
	b.Run("memory", func(b *testing.B) {
		for b.Loop() {
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(selfMem(b, "VmRSS"), "rss-MB")
		b.ReportMetric(selfMem(b, "VmHWM"), "peak-rss-MB")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
	})
}

// reportTimes reports the p50 and p99 of times, in milliseconds.
func reportTimes(b *testing.B, times []time.Duration) {
	slices.Sort(times)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}

// cpuTime is the CPU time this process has used (user and system): the
// figure to read when other processes share the machine.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selfMem reads a memory line of /proc/self/status, in MB.
func selfMem(b *testing.B, key string) float64 {
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(s), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key+":" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/self/status", key)
	return 0
}
