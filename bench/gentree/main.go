// Command gentree writes the data set of bench/compare.sh: files of mixed sizes (many
// small, some of a few MB, a few of 8–16 MB) of incompressible content, some of them exact
// copies of others, the same for the same flags.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", "", "where to write the tree (created)")
	files := flag.Int("files", 594, "files in all")
	dups := flag.Int("dups", 60, "of them, exact copies of another")
	mb := flag.Int("mb", 250, "size of the distinct content in MB, about (the copies come on top)")
	seed := flag.Uint64("seed", 1, "content seed")
	flag.Parse()
	if *dir == "" || *dups >= *files {
		flag.Usage()
		os.Exit(2)
	}
	rnd := rand.New(rand.NewPCG(*seed, 7))
	// Sizes in the proportions of mixedTree in dirsync/bench_test.go, scaled to the total.
	sizes := make([]int, *files-*dups)
	var sum int
	for i := range sizes {
		switch {
		case i%50 == 0:
			sizes[i] = 8<<20 + rnd.IntN(8<<20)
		case i%10 == 0:
			sizes[i] = 256<<10 + rnd.IntN(3<<20)
		default:
			sizes[i] = rnd.IntN(64 << 10)
		}
		sum += sizes[i]
	}
	scale := float64(*mb<<20) / float64(sum)
	buf := make([]byte, 16<<20+1)
	var written []string
	for i, n := range sizes {
		n = int(float64(n) * scale)
		n = min(n, len(buf))
		for j := 0; j < n; j += 8 {
			v := rnd.Uint64()
			for k := 0; k < 8 && j+k < n; k++ {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		p := filepath.Join(*dir, fmt.Sprintf("d%02d", i%16), fmt.Sprintf("f%04d.bin", i))
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, buf[:n], 0o644))
		written = append(written, p)
	}
	for i := 0; i < *dups; i++ {
		src := written[rnd.IntN(len(written))]
		b, err := os.ReadFile(src)
		must(err)
		p := filepath.Join(*dir, "copies", fmt.Sprintf("c%04d.bin", i))
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		must(os.WriteFile(p, b, 0o644))
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
