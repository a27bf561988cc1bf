package workers

import (
	"encoding/json"
	"testing"
)

// FuzzParseUsers: a user table file (users.json, or a mounted secret)
// of any bytes is refused with an error or yields users with valid
// names and token hashes; it never panics.
func FuzzParseUsers(f *testing.F) {
	good, _ := json.Marshal([]*User{{Name: "owner", TokenHash: HashToken("t"), Perms: []string{PermAdmin}}, {Name: "me", TokenHash: HashToken("u")}})
	f.Add(good)
	f.Add([]byte(`[null]`))
	f.Add([]byte(`[{"name":"a","token_sha256":"zz"}]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := parseUsers(b)
		if err != nil {
			return
		}
		for name, x := range u.byName {
			if ValidateName(name) != nil || x.Name != name || len(x.TokenHash) != 64 {
				t.Fatalf("accepted user %+v", x)
			}
			if _, err := u.Authenticate("not-" + name); err == nil {
				t.Fatal("a wrong token authenticated")
			}
		}
	})
}
