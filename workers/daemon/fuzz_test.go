package daemon

import (
	"encoding/json"
	"net"
	"testing"
)

// FuzzDaemonInfo: daemon.json of any bytes (a crashed daemon's, a
// tampered one) is refused with an error or names an address with a
// port; it never panics.
func FuzzDaemonInfo(f *testing.F) {
	good, _ := json.Marshal(Info{Addr: "127.0.0.1:7101", PID: 42})
	f.Add(good)
	f.Add([]byte(`{"addr":"[::1]:7101","insecure":true,"pid":1}`))
	f.Add([]byte(`{"addr":"no port"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := parseDaemonInfo(b)
		if err != nil {
			return
		}
		if _, _, err := net.SplitHostPort(info.Addr); err != nil || info.PID < 0 {
			t.Fatalf("accepted %+v", info)
		}
	})
}
