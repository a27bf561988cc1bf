package jobs

import (
	"context"
	"fmt"
	"sync"

	"github.com/gomplab/gomplab/workers"
)

// slots admits parties: at most Options.MaxJobs run at once, at most
// Options.MaxPerUser of them one user's; the others wait, in the order
// they came, at most Options.Queue of them, for a party to finish. A job
// that would wait beyond the queue is refused at once.
type slots struct {
	mu      sync.Mutex
	running int
	byUser  map[string]int
	waiting []*waiter
}

// waiter is a party waiting for its slot.
type waiter struct {
	user    string
	ready   chan struct{} // closed when the slot is granted
	granted bool          // guarded by slots.mu
}

func newSlots() *slots { return &slots{byUser: map[string]int{}} }

// enter asks for a slot for user: granted at once when one is free and
// nobody waits ahead, queued otherwise, refused when the queue is full.
func (s *slots) enter(user string, o Options, worker string) (*waiter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &waiter{user: user, ready: make(chan struct{})}
	if len(s.waiting) == 0 && s.fits(user, o) {
		s.grant(w)
		return w, nil
	}
	if len(s.waiting) >= o.Queue {
		return nil, fmt.Errorf("%w: worker %s runs %d MPC parties (its limit %d, %d per user) and %d more wait (its queue's limit); try again later",
			workers.ErrUnavailable, worker, s.running, o.MaxJobs, o.MaxPerUser, len(s.waiting))
	}
	s.waiting = append(s.waiting, w)
	return w, nil
}

func (s *slots) fits(user string, o Options) bool {
	return s.running < o.MaxJobs && s.byUser[user] < o.MaxPerUser
}

func (s *slots) grant(w *waiter) {
	s.running++
	s.byUser[w.user]++
	w.granted = true
	close(w.ready)
}

// wait blocks until w's slot is granted or ctx ends; then w holds no slot
// and leaves the queue. It returns how many waited ahead of w when it
// gave up, for the error.
func (s *slots) wait(ctx context.Context, w *waiter) (ahead int, err error) {
	select {
	case <-w.ready:
		return 0, nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.granted {
		return 0, nil // granted just as ctx ended: take it
	}
	for i, x := range s.waiting {
		if x == w {
			ahead = i
			s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
			break
		}
	}
	return ahead, ctx.Err()
}

// leave gives w's slot back and grants the waiting parties that now fit,
// in order (one user's waiting parties do not hold up another's).
func (s *slots) leave(w *waiter, o Options) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !w.granted {
		return
	}
	w.granted = false
	s.running--
	if s.byUser[w.user]--; s.byUser[w.user] <= 0 {
		delete(s.byUser, w.user)
	}
	rest := s.waiting[:0]
	for _, x := range s.waiting {
		if s.fits(x.user, o) {
			s.grant(x)
		} else {
			rest = append(rest, x)
		}
	}
	clear(s.waiting[len(rest):])
	s.waiting = rest
}

// counts returns the parties running and waiting.
func (s *slots) counts() (running, waiting int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running, len(s.waiting)
}

// release gives up w, running or waiting.
func (s *slots) release(w *waiter, o Options) {
	s.mu.Lock()
	granted := w.granted
	if !granted {
		for i, x := range s.waiting {
			if x == w {
				s.waiting = append(s.waiting[:i], s.waiting[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	if granted {
		s.leave(w, o)
	}
}
