package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wasmcanvas/wasmcanvas/pkg/lattice/subject"
	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

// Event types, as Kubernetes names them.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Event reasons the controller records.
const (
	ReasonTranslated      = "Translated"
	ReasonTranslateFailed = "TranslateFailed"
	ReasonManifestPut     = "ManifestPut"
	ReasonDeployed        = "Deployed"
	ReasonDeployFailed    = "DeployFailed"
	ReasonReady           = "Ready"
	ReasonDeleted         = "Deleted"
	ReasonDeleteFailed    = "DeleteFailed"
	ReasonUnknownSite     = "UnknownSite"
)

// Defaults of the event stream.
const (
	DefaultEventStream    = subject.ComponentEventStream
	DefaultEventsPerKey   = 100
	DefaultEventMaxAge    = 24 * time.Hour
	eventListFetchBatch   = 256
	eventListFetchMaxWait = 5 * time.Second
)

// Event is a Kubernetes-style event about one Component. Repeats of the
// same type, reason and message are folded into one event whose Count
// grows, as kubectl shows them.
type Event struct {
	// Key is the Component's {namespace}.{name}.
	Key string `json:"key"`
	// UID is the Component's metadata.uid: a Component deleted and created
	// again under the same key is another incarnation with other events
	// (Kubernetes' involvedObject.uid). Empty once the Component is gone.
	UID            string    `json:"uid,omitempty"`
	Type           string    `json:"type"`
	Reason         string    `json:"reason"`
	Message        string    `json:"message"`
	Count          int       `json:"count"`
	FirstTimestamp time.Time `json:"firstTimestamp"`
	LastTimestamp  time.Time `json:"lastTimestamp"`
	// Seq is the event's sequence in the stream, set by the lists (a fold
	// gives it a new one).
	Seq uint64 `json:"-"`
}

// RecorderOptions configure the event stream; zero values take defaults.
type RecorderOptions struct {
	// Stream is the JetStream stream name (DefaultEventStream).
	Stream string
	// PerKey is how many events are kept per Component (DefaultEventsPerKey).
	PerKey int
	// MaxAge drops events older than this (DefaultEventMaxAge).
	MaxAge time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Recorder writes events to a JetStream stream with limits retention (at
// most PerKey per Component, none older than MaxAge) and reads them back.
// It is safe for concurrent use.
type Recorder struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string
	now    func() time.Time
}

// NewRecorder creates or updates the event stream.
func NewRecorder(ctx context.Context, js jetstream.JetStream, opts RecorderOptions) (*Recorder, error) {
	if opts.Stream == "" {
		opts.Stream = DefaultEventStream
	}
	if opts.PerKey == 0 {
		opts.PerKey = DefaultEventsPerKey
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultEventMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PerKey < 0 || opts.MaxAge < 0 {
		return nil, fmt.Errorf("event recorder: PerKey %d and MaxAge %s must not be negative (0 takes the default)", opts.PerKey, opts.MaxAge)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              opts.Stream,
		Description:       "wasmcanvas Component events (canvas describe)",
		Subjects:          []string{subject.ComponentEventsAll},
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: int64(opts.PerKey),
		MaxAge:            opts.MaxAge,
		Discard:           jetstream.DiscardOld,
		Storage:           jetstream.FileStorage,
		AllowDirect:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("event recorder: create stream %s on %s: %w", opts.Stream, subject.ComponentEventsAll, err)
	}
	return &Recorder{js: js, stream: st, name: opts.Stream, now: opts.Now}, nil
}

// Record records an event about the incarnation uid of the Component key.
// A repeat of the last event of that key (same uid, type, reason and
// message) replaces it with the count increased.
func (r *Recorder) Record(ctx context.Context, key, uid, eventType, reason, message string) error {
	subj := subject.ComponentEvents(key)
	now := r.now().UTC()
	// Two attempts: the publish is conditional on the key's last event, so
	// a concurrent recorder makes the first one fail and the second re-read.
	var err error
	for range 2 {
		ev := Event{Key: key, UID: uid, Type: eventType, Reason: reason, Message: message, Count: 1, FirstTimestamp: now, LastTimestamp: now}
		var lastSeq uint64
		var fold bool
		last, gerr := r.stream.GetLastMsgForSubject(ctx, subj)
		switch {
		case gerr == nil:
			lastSeq = last.Sequence
			var prev Event
			if json.Unmarshal(last.Data, &prev) == nil && prev.UID == uid && prev.Type == eventType && prev.Reason == reason && prev.Message == message {
				ev.Count, ev.FirstTimestamp, fold = prev.Count+1, prev.FirstTimestamp, true
			}
		case errors.Is(gerr, jetstream.ErrMsgNotFound):
		default:
			return fmt.Errorf("record event %s for %s: read the last event: %w", reason, key, gerr)
		}
		data, merr := json.Marshal(ev)
		if merr != nil {
			return fmt.Errorf("record event %s for %s: %w", reason, key, merr)
		}
		_, err = r.js.Publish(ctx, subj, data, jetstream.WithExpectLastSequencePerSubject(lastSeq))
		if err != nil {
			continue
		}
		if fold {
			// The folded copy replaces the old one; if the delete fails the
			// old count is merely listed twice, so it is not an error.
			_ = r.stream.DeleteMsg(ctx, lastSeq)
		}
		return nil
	}
	return fmt.Errorf("record event %s for %s on %s: %w", reason, key, subj, err)
}

// List returns the recorded events of incarnation uid of the Component
// key, oldest first: the events of an earlier Component of that name
// (deleted, then created again) are not among them.
func (r *Recorder) List(ctx context.Context, key, uid string) ([]Event, error) {
	return r.list(ctx, subject.ComponentEvents(key), "events of "+key, func(ev Event) bool { return ev.UID == uid })
}

// ListNamespace returns the recorded events of every Component in
// namespace ("": in every namespace), earlier incarnations' included,
// oldest first.
func (r *Recorder) ListNamespace(ctx context.Context, namespace string) ([]Event, error) {
	subj, what, err := namespaceSubject(namespace)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return r.list(ctx, subj, what, func(Event) bool { return true })
}

// namespaceSubject is the subject of the events in namespace ("": in
// every namespace) and how errors name them; a namespace that is not a
// name is an error (a wildcard or a dot would widen the subject).
func namespaceSubject(namespace string) (subj, what string, err error) {
	if namespace == "" {
		return subject.ComponentEventsAll, "events", nil
	}
	what = fmt.Sprintf("events in namespace %q", namespace)
	if err := oda.CheckDNSLabel(namespace); err != nil {
		return "", what, err
	}
	return subject.ComponentEvents(namespace) + ".*", what, nil
}

// Watch delivers the events recorded in namespace ("": in every
// namespace) after the stream sequence after, in order, each with its
// Seq (a repeat folded into an earlier event comes again, with the count
// grown), until ctx ends or the stream cannot be read; the channel is
// closed then. Watch's goroutine ends with the channel.
func (r *Recorder) Watch(ctx context.Context, namespace string, after uint64) (<-chan Event, error) {
	subj, what, err := namespaceSubject(namespace)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", what, err)
	}
	cons, err := r.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    after + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("watch %s: create a consumer on stream %s: %w", what, r.name, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", what, err)
	}
	ch := make(chan Event, 16)
	go func() {
		defer close(ch)
		stop := context.AfterFunc(ctx, it.Stop)
		defer stop()
		defer it.Stop()
		for {
			m, err := it.Next()
			if err != nil {
				return // stopped, or the consumer failed: the caller lists again
			}
			var ev Event
			if json.Unmarshal(m.Data(), &ev) != nil {
				continue // not an event: List reports it
			}
			if md, err := m.Metadata(); err == nil {
				ev.Seq = md.Sequence.Stream
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// list reads the events on subj (what names them in errors) that keep
// accepts, in stream order.
func (r *Recorder) list(ctx context.Context, subj, what string, keep func(Event) bool) ([]Event, error) {
	cons, err := r.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     subj,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: create a consumer on stream %s: %w", what, r.name, err)
	}
	name := cons.CachedInfo().Name
	defer func() {
		// Best effort: InactiveThreshold removes it anyway.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = r.stream.DeleteConsumer(dctx, name)
		cancel()
	}()
	pending := int(cons.CachedInfo().NumPending)
	out := make([]Event, 0, pending)
	for seen := 0; seen < pending; {
		batch, err := cons.Fetch(min(pending-seen, eventListFetchBatch), jetstream.FetchMaxWait(eventListFetchMaxWait))
		if err != nil {
			return nil, fmt.Errorf("list %s: fetch: %w", what, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var ev Event
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				return nil, fmt.Errorf("list %s: message on %s is not an event: %w", what, m.Subject(), err)
			}
			if md, err := m.Metadata(); err == nil {
				ev.Seq = md.Sequence.Stream
			}
			if keep(ev) {
				out = append(out, ev)
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("list %s: fetch: %w", what, err)
		}
		if n == 0 {
			// Messages counted as pending expired meanwhile.
			break
		}
		seen += n
	}
	return out, nil
}
