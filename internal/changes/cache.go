package changes

import (
	"crypto/sha256"
	"fmt"
	"path"
	"strings"
	"sync"
)

// Cache keeps what change detection worked out of each module folder (the local modules it calls, the
// files it reads), by the folder's name and its configuration files' contents, for later detections: a
// pull request's next commit changes a few files, and only their folders are parsed again. Parsing is
// most of what detection costs (HCL's lexer: 43 ms of the module graph of one environment of the 5,000
// file benchmark repository). A long-lived runner's runs share one; it is safe for concurrent use. A nil
// *Cache keeps nothing.
type Cache struct {
	mu      sync.Mutex
	modules map[cacheKey]*module
	reads   map[cacheKey]*readSet
}

// maxCacheEntries bounds a Cache; past it, it starts again empty.
const maxCacheEntries = 20_000

type cacheKey struct {
	dir, rootDir string // rootDir: reads only (paths resolve against the root module)
	sum          [sha256.Size]byte
}

// NewCache returns an empty Cache.
func NewCache() *Cache {
	return &Cache{modules: map[cacheKey]*module{}, reads: map[cacheKey]*readSet{}}
}

func (c *Cache) module(k cacheKey) (*module, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.modules[k]
	return m, ok
}

func (c *Cache) putModule(k cacheKey, m *module) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.modules)+len(c.reads) >= maxCacheEntries {
		c.modules, c.reads = map[cacheKey]*module{}, map[cacheKey]*readSet{}
	}
	c.modules[k] = m
}

func (c *Cache) readSet(k cacheKey) (*readSet, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rs, ok := c.reads[k]
	return rs, ok
}

func (c *Cache) putReadSet(k cacheKey, rs *readSet) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.modules)+len(c.reads) >= maxCacheEntries {
		c.modules, c.reads = map[cacheKey]*module{}, map[cacheKey]*readSet{}
	}
	c.reads[k] = rs
}

// configFile reports whether Terraform (or tfconfig) reads a file so named as configuration.
func configFile(name string) bool {
	return strings.HasSuffix(name, ".tf") || strings.HasSuffix(name, ".tf.json") || strings.HasSuffix(name, ".hcl")
}

// fingerprint sums the names and contents of dir's configuration files, which are all that loading
// the module in dir and listing its reads look at. ok is false when one cannot be read: the caller
// then works without the cache, and reports the problem as it would.
func (g *graph) fingerprint(dir string) (sum [sha256.Size]byte, ok bool) {
	if g.cache == nil {
		return sum, false
	}
	g.sumsMu.Lock()
	s, done := g.sums[dir]
	g.sumsMu.Unlock()
	if done {
		return s, s != [sha256.Size]byte{}
	}
	sum, ok = g.sum(dir)
	g.sumsMu.Lock()
	g.sums[dir] = sum // a failure is remembered as the zero sum
	g.sumsMu.Unlock()
	return sum, ok
}

func (g *graph) sum(dir string) (sum [sha256.Size]byte, ok bool) {
	entries, err := g.fsys.ReadDir(dir)
	if err != nil {
		return sum, false
	}
	h := sha256.New()
	for _, e := range entries {
		name := e.Name()
		if !configFile(name) {
			continue
		}
		data, err := g.fsys.ReadFile(path.Join(dir, name))
		if err != nil {
			return sum, false
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	h.Sum(sum[:0])
	return sum, true
}
