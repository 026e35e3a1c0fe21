package items

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strconv"
)

// Both stores number items in creation order (seq) and page by it, so a
// cursor is the seq of the last item of a page: opaque to clients, and the
// same format for both stores.

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s" + strconv.FormatInt(seq, 10)))
}

func decodeCursor(cursor string) (int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) < 2 || raw[0] != 's' || raw[1] == '-' || raw[1] == '+' {
		return 0, ErrInvalidCursor
	}
	seq, err := strconv.ParseInt(string(raw[1:]), 10, 64)
	if err != nil {
		return 0, ErrInvalidCursor
	}
	return seq, nil
}

// idLen is the length of every item ID: 16 random bytes in lower-case hex.
const idLen = 32

func newID() (string, error) {
	var b [idLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// wellFormedID reports whether id could have come from newID. Other strings
// name no item; the Postgres store answers them without a query.
func wellFormedID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := range len(id) {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
