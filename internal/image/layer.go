package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"time"

	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// appDir is where the binary goes in the image.
const appDir = "/app"

// binaryLayer puts the file at bin into a layer as /app/<name>, with headers that depend only on the
// file's bytes and mtime: same binary and time, same layer digest.
//
// It writes the tar, compresses it and hashes both in one pass and keeps the bytes in memory (a Go
// binary is megabytes): the build's temp dir can go at once, and nothing is compressed twice, which
// tarball.LayerFromOpener would do (once for the digest, once for the upload).
func binaryLayer(bin, name string, mtime time.Time) (v1.Layer, error) {
	f, err := os.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	mtime = mtime.UTC().Truncate(time.Second)

	l := &memLayer{}
	var tarBuf, gzBuf bytes.Buffer
	tarBuf.Grow(int(fi.Size()) + 4096)
	gzBuf.Grow(int(fi.Size()) / 2)
	tarSum, gzSum := sha256.New(), sha256.New()
	// BestSpeed: compression is most of the cost on top of go build, and a few percent of size is not
	// worth more time. The output is deterministic for a given compressor version.
	gz, err := gzip.NewWriterLevel(io.MultiWriter(&gzBuf, gzSum), gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(io.MultiWriter(&tarBuf, tarSum, gz))
	hdr := func(name string, typ byte, size int64) *tar.Header {
		return &tar.Header{
			Name: name, Typeflag: typ, Mode: 0o755, Size: size, ModTime: mtime,
			Uid: 0, Gid: 0, Uname: "root", Gname: "root",
		}
	}
	if err := tw.WriteHeader(hdr(appDir[1:]+"/", tar.TypeDir, 0)); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(hdr(path.Join(appDir[1:], name), tar.TypeReg, fi.Size())); err != nil {
		return nil, err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return nil, fmt.Errorf("write %s into layer: %w", bin, err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	l.tar, l.gz = tarBuf.Bytes(), gzBuf.Bytes()
	l.diffID, l.digest = sum(tarSum), sum(gzSum)
	return l, nil
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// MemLayer is a gzip OCI layer held in memory: tarBytes and its gzip compression gzBytes (the caller
// compresses, once), with both digests computed here.
func MemLayer(tarBytes, gzBytes []byte) v1.Layer {
	t, g := sha256.Sum256(tarBytes), sha256.Sum256(gzBytes)
	return &memLayer{tar: tarBytes, gz: gzBytes,
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(t[:])},
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(g[:])}}
}

// memLayer is a gzip OCI layer held in memory with both forms and digests precomputed.
type memLayer struct {
	tar, gz        []byte
	digest, diffID v1.Hash
}

var _ v1.Layer = (*memLayer)(nil)

func (l *memLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *memLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *memLayer) Size() (int64, error)     { return int64(len(l.gz)), nil }
func (l *memLayer) MediaType() (types.MediaType, error) {
	return types.OCILayer, nil
}
func (l *memLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}
func (l *memLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.tar)), nil
}
