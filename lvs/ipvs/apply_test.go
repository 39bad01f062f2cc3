package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsconsole/lvsconsole/lvs/ipvs"
	"github.com/lvsconsole/lvsconsole/lvs/ipvs/ipvstest"
)

// newBatchClient is newClient on the netlink socket, so that Apply batches.
func newBatchClient(t testing.TB) (*ipvstest.Kernel, *ipvs.Client) {
	t.Helper()
	k := ipvstest.New()
	c, err := ipvs.NewNetlink(k.NetlinkConn())
	if err != nil {
		t.Fatalf("NewNetlink: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return k, c
}

// table is the fake's table: services in dump order, each with its
// destinations, newest first.
type table struct {
	Services []ipvs.Service
	Dests    map[ipvs.ServiceKey][]ipvs.Destination
}

func tableOf(k *ipvstest.Kernel) table {
	t := table{Services: k.Services(), Dests: make(map[ipvs.ServiceKey][]ipvs.Destination)}
	for _, s := range t.Services {
		t.Dests[s.ServiceKey] = k.Destinations(s.ServiceKey)
	}
	return t
}

func TestApplyBatch(t *testing.T) {
	single, c1 := newClient(t)
	apply(t, c1)

	k, c := newBatchClient(t)
	ops := benchOps()
	d0, m0 := c.Requests(), c.Messages()
	for i, err := range c.Apply(context.Background(), ops) {
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	datagrams, messages := c.Requests()-d0, c.Messages()-m0
	t.Logf("%d messages in %d datagrams", messages, datagrams)
	if messages != uint64(len(ops)) {
		t.Errorf("Messages: %d, want %d", messages, len(ops))
	}
	if datagrams*100 >= messages {
		t.Errorf("%d datagrams for %d messages, want under 1%%", datagrams, messages)
	}
	if got, want := tableOf(k), tableOf(single); !reflect.DeepEqual(got, want) {
		t.Error("Apply and the single-op methods made different tables")
	}
	reqs := k.Requests()
	if len(reqs) != len(ops) {
		t.Errorf("the kernel saw %d requests, want %d", len(reqs), len(ops))
	}
	acks := 0
	for _, r := range reqs {
		if r.Ack {
			acks++
		}
	}
	if acks != int(datagrams) || !reqs[len(reqs)-1].Ack {
		t.Errorf("%d requests asked for an acknowledgement, want the last of each of %d datagrams", acks, datagrams)
	}
}

// mixedOps is a batch where some ops fail, with what the kernel answers
// each; setup prepares the table it runs on.
func mixedOps() (setup func(context.Context, *ipvs.Client) error, ops []ipvs.Op, want []error) {
	a := ipvs.Service{ServiceKey: tcp4(80), Scheduler: "rr"}
	b := ipvs.Service{ServiceKey: tcp4(81), Scheduler: "rr"}
	missing := ipvs.Service{ServiceKey: tcp4(82), Scheduler: "rr"}
	bad := ipvs.Service{ServiceKey: tcp4(83), Scheduler: "nosuch"}
	last := ipvs.Service{ServiceKey: tcp4(84), Scheduler: "wlc"}
	d := func(port uint16, w int32) ipvs.Destination {
		return ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.1"), Port: port, Weight: w}
	}
	setup = func(ctx context.Context, c *ipvs.Client) error { return c.NewService(ctx, a) }
	bWrr := b
	bWrr.Scheduler = "wrr"
	ops = []ipvs.Op{
		{Kind: ipvs.AddService, Service: b},
		{Kind: ipvs.AddService, Service: a},                                  // EEXIST
		{Kind: ipvs.AddDest, Service: b, Dest: d(1, 1)},                      // needs op 0
		{Kind: ipvs.AddDest, Service: missing, Dest: d(1, 1)},                // ESRCH
		{Kind: ipvs.AddService, Service: bad},                                // ENOENT
		{Kind: ipvs.AddDest, Service: b, Dest: d(2, 1)},                      //
		{Kind: ipvs.EditService, Service: bWrr},                              //
		{Kind: ipvs.DeleteDest, Service: b, Dest: d(1, 0)},                   //
		{Kind: ipvs.AddDest, Service: b, Dest: d(1, 5)},                      // needs op 7
		{Kind: ipvs.EditDest, Service: b, Dest: d(9, 1)},                     // ENOENT: no such destination
		{Kind: ipvs.DeleteService, Service: missing},                         // ESRCH
		{Kind: ipvs.AddDest, Service: a, Dest: d(3, -1)},                     // ERANGE
		{Kind: ipvs.AddService, Service: last},                               //
		{Kind: ipvs.AddDest, Service: last, Dest: d(1, 1)},                   //
		{Kind: ipvs.DeleteDest, Service: last, Dest: d(7, 0)},                // ENOENT, last of the batch
		{Kind: ipvs.OpKind(99), Service: last},                               // refused before sending
		{Kind: ipvs.AddService, Service: ipvs.Service{ServiceKey: tcp4(85)}}, // no scheduler: refused before sending
	}
	want = []error{nil, syscall.EEXIST, nil, syscall.ESRCH, syscall.ENOENT, nil, nil, nil, nil, syscall.ENOENT,
		syscall.ESRCH, syscall.ERANGE, nil, nil, syscall.ENOENT, errLocal, errLocal}
	return setup, ops, want
}

// errLocal stands for an op refused before it is sent.
var errLocal = errors.New("refused by the client")

// checkErrs checks errs against want, and that each error names its op's
// service and destination.
func checkErrs(t *testing.T, ops []ipvs.Op, errs, want []error) {
	t.Helper()
	if len(errs) != len(ops) {
		t.Fatalf("%d errors for %d ops", len(errs), len(ops))
	}
	for i, err := range errs {
		switch {
		case want[i] == nil && err != nil:
			t.Errorf("op %d (%v): %v", i, ops[i].Kind, err)
			continue
		case want[i] == nil:
			continue
		case want[i] != errLocal && !errors.Is(err, want[i]):
			t.Errorf("op %d (%v): %v, want %v", i, ops[i].Kind, err, want[i])
		}
		var e *ipvs.Error
		if !errors.As(err, &e) {
			t.Errorf("op %d: %T is not an *ipvs.Error", i, err)
			continue
		}
		if e.Service == nil || *e.Service != ops[i].Service.ServiceKey {
			t.Errorf("op %d: error names service %v, want %v", i, e.Service, ops[i].Service.ServiceKey)
		}
		switch ops[i].Kind {
		case ipvs.AddDest, ipvs.EditDest, ipvs.DeleteDest:
			if dk := ops[i].Dest.Key(); e.Dest == nil || *e.Dest != dk {
				t.Errorf("op %d: error names destination %v, want %v", i, e.Dest, dk)
			}
		default:
			if e.Dest != nil {
				t.Errorf("op %d: error names destination %v", i, e.Dest)
			}
		}
		switch want[i] {
		case syscall.EEXIST:
			if !errors.Is(err, ipvs.ErrExists) {
				t.Errorf("op %d: %v is not ErrExists", i, err)
			}
		case syscall.ENOENT, syscall.ESRCH:
			if !errors.Is(err, ipvs.ErrNotFound) {
				t.Errorf("op %d: %v is not ErrNotFound", i, err)
			}
		}
	}
}

// singleOps runs ops one at a time through the single-op methods.
func singleOps(ctx context.Context, c *ipvs.Client, ops []ipvs.Op) []error {
	errs := make([]error, len(ops))
	for i, o := range ops {
		switch o.Kind {
		case ipvs.AddService:
			errs[i] = c.NewService(ctx, o.Service)
		case ipvs.EditService:
			errs[i] = c.UpdateService(ctx, o.Service)
		case ipvs.DeleteService:
			errs[i] = c.DeleteService(ctx, o.Service.ServiceKey)
		case ipvs.AddDest:
			errs[i] = c.NewDestination(ctx, o.Service.ServiceKey, o.Dest)
		case ipvs.EditDest:
			errs[i] = c.UpdateDestination(ctx, o.Service.ServiceKey, o.Dest)
		case ipvs.DeleteDest:
			errs[i] = c.DeleteDestination(ctx, o.Service.ServiceKey, o.Dest.Key())
		default:
			errs[i] = errLocal
		}
	}
	return errs
}

func TestApplyErrors(t *testing.T) {
	ctx := context.Background()
	setup, ops, want := mixedOps()

	// What the single-op methods do is the reference.
	ref, rc := newClient(t)
	if err := setup(ctx, rc); err != nil {
		t.Fatal(err)
	}
	refErrs := singleOps(ctx, rc, ops)
	checkErrs(t, ops[:len(ops)-2], refErrs[:len(ops)-2], want)
	refTable := tableOf(ref)

	newFallback := func(t *testing.T) (*ipvstest.Kernel, *ipvs.Client) { return newClient(t) }
	limits := func(bytes, acks int) func(t *testing.T) (*ipvstest.Kernel, *ipvs.Client) {
		return func(t *testing.T) (*ipvstest.Kernel, *ipvs.Client) {
			k, c := newBatchClient(t)
			if bytes != 0 {
				ipvs.SetBatchLimits(c, bytes, acks)
			}
			return k, c
		}
	}
	for _, tc := range []struct {
		name      string
		client    func(t *testing.T) (*ipvstest.Kernel, *ipvs.Client)
		datagrams int // sent by Apply; 0: more than one, fewer than the messages
	}{
		{"fallback", newFallback, len(ops) - 2},
		{"one datagram", limits(0, 0), 1},
		{"by size", limits(3*140, 1<<30), 0},
		{"one per datagram", limits(1, 1<<30), len(ops) - 2},
		{"two per datagram by receive buffer", limits(1<<16, 2*ipvs.AckCost(140)), 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, c := tc.client(t)
			if err := setup(ctx, c); err != nil {
				t.Fatal(err)
			}
			d0, m0 := c.Requests(), c.Messages()
			errs := c.Apply(ctx, ops)
			checkErrs(t, ops, errs, want)
			for i, err := range errs[:len(ops)-2] {
				if fmt.Sprint(err) != fmt.Sprint(refErrs[i]) {
					t.Errorf("op %d: %v\nsingle-op method: %v", i, err, refErrs[i])
				}
			}
			if got := tableOf(k); !reflect.DeepEqual(got, refTable) {
				t.Errorf("table:\n got %+v\nwant %+v", got, refTable)
			}
			d, m := c.Requests()-d0, c.Messages()-m0
			t.Logf("%d messages in %d datagrams", m, d)
			if m != uint64(len(ops)-2) {
				t.Errorf("%d messages, want %d", m, len(ops)-2)
			}
			if tc.datagrams != 0 && d != uint64(tc.datagrams) || tc.datagrams == 0 && (d <= 1 || d >= m) {
				t.Errorf("%d datagrams, want %d", d, tc.datagrams)
			}
		})
	}
}

func TestApplyChunkBoundaries(t *testing.T) {
	// Dependent ops cut at every place: a service and its destinations,
	// a destination deleted and added again.
	ctx := context.Background()
	s := ipvs.Service{ServiceKey: tcp4(80), Scheduler: "rr"}
	d := func(port uint16, w int32) ipvs.Destination {
		return ipvs.Destination{Addr: netip.MustParseAddr("10.0.0.1"), Port: port, Weight: w}
	}
	ops := []ipvs.Op{{Kind: ipvs.AddService, Service: s}}
	for p := range uint16(5) {
		ops = append(ops, ipvs.Op{Kind: ipvs.AddDest, Service: s, Dest: d(p, 1)})
	}
	for p := range uint16(5) {
		ops = append(ops,
			ipvs.Op{Kind: ipvs.DeleteDest, Service: s, Dest: d(p, 0)},
			ipvs.Op{Kind: ipvs.AddDest, Service: s, Dest: d(p, int32(p)+10)})
	}
	ops = append(ops, ipvs.Op{Kind: ipvs.DeleteService, Service: s},
		ipvs.Op{Kind: ipvs.AddService, Service: s},
		ipvs.Op{Kind: ipvs.AddDest, Service: s, Dest: d(9, 9)})

	for per := 1; per <= len(ops); per++ {
		k, c := newBatchClient(t)
		ipvs.SetBatchLimits(c, 1<<20, per*ipvs.AckCost(200))
		d0 := c.Requests()
		for i, err := range c.Apply(ctx, ops) {
			if err != nil {
				t.Errorf("%d per datagram: op %d: %v", per, i, err)
			}
		}
		if n, want := c.Requests()-d0, uint64((len(ops)+per-1)/per); n != want {
			t.Errorf("%d per datagram: %d datagrams, want %d", per, n, want)
		}
		got := k.Destinations(s.ServiceKey)
		if len(got) != 1 || got[0].Port != 9 || got[0].Weight != 9 {
			t.Errorf("%d per datagram: destinations %+v", per, got)
		}
	}
}

func TestApplyCanceled(t *testing.T) {
	_, ops, _ := mixedOps()
	ops = ops[:len(ops)-2] // those the client does not refuse itself
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, mk := range map[string]func(testing.TB) (*ipvstest.Kernel, *ipvs.Client){
		"batch": newBatchClient, "fallback": newClient,
	} {
		k, c := mk(t)
		before := c.Requests()
		errs := c.Apply(ctx, ops)
		for i, err := range errs {
			var e *ipvs.Error
			if !errors.Is(err, context.Canceled) || !errors.As(err, &e) || *e.Service != ops[i].Service.ServiceKey {
				t.Errorf("%s: op %d: %v, want context.Canceled", name, i, err)
			}
		}
		if c.Requests() != before || len(k.Requests()) != 0 {
			t.Errorf("%s: a canceled Apply sent requests", name)
		}
	}
}

func TestApplyDeadline(t *testing.T) {
	// The answers come after the deadline: the ops answered by none
	// report it, and the next call is not confused by the late answers.
	k, c := newBatchClient(t)
	ipvs.SetBatchLimits(c, 1<<16, 4*ipvs.AckCost(200))
	ops := benchOps()[:11]
	k.SetReplyDelay(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	for i, err := range c.Apply(ctx, ops) {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("op %d: %v, want context.DeadlineExceeded", i, err)
		}
	}
	k.SetReplyDelay(0)
	dup := []ipvs.Op{ops[0], ops[1], {Kind: ipvs.AddService, Service: benchService(99)}}
	errs := c.Apply(context.Background(), dup)
	if !errors.Is(errs[0], ipvs.ErrExists) || !errors.Is(errs[1], ipvs.ErrExists) || errs[2] != nil {
		t.Errorf("after a timed-out batch: %v", errs)
	}
	if n := len(k.Services()); n != 2 {
		t.Errorf("%d services, want 2", n)
	}

	// Cancellation ends a wait that has no deadline.
	k.SetReplyDelay(5 * time.Second)
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	for i, err := range c.Apply(ctx, []ipvs.Op{{Kind: ipvs.AddService, Service: benchService(100)}}) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("op %d: %v, want context.Canceled", i, err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancellation took %v", d)
	}
}

func TestApplyAllFail(t *testing.T) {
	// Every answer is an error: the batches are small enough for the
	// receive buffer to hold them all.
	ctx := context.Background()
	k, c := newBatchClient(t)
	ops := benchOps()
	for i, err := range c.Apply(ctx, ops) {
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	for i, err := range c.Apply(ctx, ops) {
		if !errors.Is(err, ipvs.ErrExists) {
			t.Fatalf("op %d again: %v, want ErrExists", i, err)
		}
	}

	// With a budget that ignores the buffer, the kernel drops answers:
	// those it kept are reported, the others are unknown, never success.
	ipvs.SetBatchLimits(c, 200<<10, 1<<30)
	errs := c.Apply(ctx, ops)
	exists, lost := 0, 0
	for i, err := range errs {
		switch {
		case errors.Is(err, ipvs.ErrExists):
			exists++
		case errors.Is(err, syscall.ENOBUFS):
			lost++
		default:
			t.Fatalf("op %d with overrun: %v", i, err)
		}
	}
	t.Logf("overrun: %d answers kept, %d lost", exists, lost)
	if lost == 0 {
		t.Error("no answer was lost: the test does not overrun the buffer")
	}
	// The socket is sound afterwards.
	if errs := c.Apply(ctx, []ipvs.Op{{Kind: ipvs.AddService, Service: benchService(2000)}}); errs[0] != nil {
		t.Errorf("after the overrun: %v", errs[0])
	}
	if _, err := c.Services(ctx); err != nil {
		t.Errorf("after the overrun: %v", err)
	}
	if n := len(k.Services()); n != benchServices+1 {
		t.Errorf("%d services, want %d", n, benchServices+1)
	}
}

func TestApplyConcurrent(t *testing.T) {
	ctx := context.Background()
	k, c := newBatchClient(t)
	ops := benchOps()
	var wg sync.WaitGroup
	for g := range 4 {
		part := ops[g*len(ops)/4 : (g+1)*len(ops)/4]
		wg.Go(func() {
			for _, err := range c.Apply(ctx, part) { // whole services each
				if err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			if _, err := c.Services(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(k.Services()); n != benchServices {
		t.Errorf("%d services, want %d", n, benchServices)
	}
}
