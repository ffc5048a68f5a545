package runtime

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/wasmcanvas/wasmcanvas/pkg/runtime/internal/cm"
)

// Profile adds up, for the requests served while it runs, where their time
// goes: instantiating the component, the export call (the guest's code and
// its host calls), every host call by interface and function, and tearing
// the instance down. The guest's own time is the call's less its host
// calls'. It is how the README's split of a request was measured.
//
// # Notes
//
//   - One profile runs per process; StartProfile ends the one before.
//   - Off, it costs a request nothing measurable (a nil check per host
//     call); on, two clock reads per host call.
type Profile struct{ p *cm.Profile }

// StartProfile starts profiling every host in the process.
func StartProfile() *Profile { return &Profile{p: cm.StartProfile()} }

// ProfileStat is a count and the time it took.
type ProfileStat struct {
	Name  string
	Count int64
	Total time.Duration
}

// ProfileReport is what a Profile saw.
type ProfileReport struct {
	// Instances is the number of request instances closed.
	Instances int64
	// Phases are instantiate, call and teardown.
	Phases []ProfileStat
	// HostCalls are the host functions and resource drops the guests
	// called, most time first.
	HostCalls []ProfileStat
}

// Stop ends the profile and returns what it saw, once the instances of
// the requests it saw are torn down (a teardown may follow its response;
// Stop waits up to profileSettle for them).
func (p *Profile) Stop() ProfileReport {
	p.p.Stop()
	p.p.Settle(profileSettle)
	return p.Report()
}

// profileSettle bounds how long Stop waits for teardowns.
const profileSettle = 10 * time.Second

// Report returns what the profile has seen so far.
func (p *Profile) Report() ProfileReport {
	n, phases, calls := p.p.Snapshot()
	r := ProfileReport{Instances: n}
	for _, s := range phases {
		r.Phases = append(r.Phases, ProfileStat(s))
	}
	for _, s := range calls {
		r.HostCalls = append(r.HostCalls, ProfileStat(s))
	}
	return r
}

// Phase returns the named phase (see PhaseInstantiate and the others).
func (r ProfileReport) Phase(name string) ProfileStat {
	for _, s := range r.Phases {
		if s.Name == name {
			return s
		}
	}
	return ProfileStat{Name: name}
}

// Profile phases.
const (
	PhaseInstantiate = cm.PhaseInstantiate
	PhaseCall        = cm.PhaseCall
	PhaseTeardown    = cm.PhaseTeardown
)

// HostTotal is the time spent in host calls and their count.
func (r ProfileReport) HostTotal() (time.Duration, int64) {
	var d time.Duration
	var n int64
	for _, s := range r.HostCalls {
		d += s.Total
		n += s.Count
	}
	return d, n
}

// PerInstance divides d by the instances seen.
func (r ProfileReport) PerInstance(d time.Duration) time.Duration {
	if r.Instances == 0 {
		return 0
	}
	return d / time.Duration(r.Instances)
}

// WriteTable writes the split per request instance: the phases, the guest's
// own time, and the host calls that took the most, up to top of them.
func (r ProfileReport) WriteTable(w io.Writer, top int) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	per := func(s ProfileStat) string {
		return fmt.Sprintf("%.1f µs\t%.1f\t", float64(r.PerInstance(s.Total).Nanoseconds())/1e3, float64(s.Count)/float64(max(r.Instances, 1)))
	}
	fmt.Fprintf(tw, "per request instance (%d)\ttime\tcount\t\n", r.Instances)
	host, nhost := r.HostTotal()
	call := r.Phase(PhaseCall)
	for _, s := range r.Phases {
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, per(s))
		if s.Name == PhaseCall {
			fmt.Fprintf(tw, "  guest code\t%s\n", per(ProfileStat{Total: call.Total - host, Count: call.Count}))
			fmt.Fprintf(tw, "  host calls\t%s\n", per(ProfileStat{Total: host, Count: nhost}))
		}
	}
	for i, s := range r.HostCalls {
		if i == top {
			break
		}
		fmt.Fprintf(tw, "    %s\t%s\n", s.Name, per(s))
	}
	return tw.Flush()
}
