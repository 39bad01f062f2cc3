package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// The stages stop in the reverse of their start order, each after the one
// started after it has returned, whether ctx ends or a stage fails.
func TestRunStagesOrder(t *testing.T) {
	for _, failing := range []string{"", "b"} {
		t.Run("failing="+failing, func(t *testing.T) {
			var (
				mu     sync.Mutex
				events []string
			)
			log := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
			started := make(chan string, 3)
			mk := func(name string) stage {
				return stage{name, func(ctx context.Context) error {
					started <- name
					if name == failing {
						log("fail " + name)
						return errors.New("broke")
					}
					<-ctx.Done()
					log("stop " + name)
					return nil
				}}
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- runStages(ctx, mk("a"), mk("b"), mk("c")) }()
			for range 3 {
				<-started
			}
			if failing == "" {
				cancel()
			}
			err := <-done
			want := "stop c,stop b,stop a"
			if failing != "" {
				want = "fail b,stop c,stop a"
				if err == nil || err.Error() != "b: broke" {
					t.Errorf("runStages = %v, want b: broke", err)
				}
			} else if err != nil {
				t.Errorf("runStages = %v", err)
			}
			if got := strings.Join(events, ","); got != want {
				t.Errorf("events %s, want %s", got, want)
			}
		})
	}
}
