package pulse

import "time"

// arrival converts a kernel timestamp to our clock: now minus its age. The
// age is bounded by what we know for sure: the datagram was not queued
// when we last found the socket empty (so it is no older than that), and
// it is not from the future. A wall clock that steps between the arrival
// and the read therefore moves the result by no more than the time the
// datagram could have waited.
func arrival(stamp int64, now time.Time, wallNow int64, lastEmpty time.Time) time.Time {
	if stamp == 0 {
		return now
	}
	age := time.Duration(wallNow - stamp)
	age = min(max(age, 0), max(now.Sub(lastEmpty), 0))
	return now.Add(-age)
}
