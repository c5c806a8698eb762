package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/kafki/kafki/examples/internal/exrun"
	"github.com/kafki/kafki/serde"
)

// builtinText is the input of the demo: the lines of the Kafka Streams
// word-count demo, then Lewis Carroll's Jabberwocky (1871, public domain).
var builtinText = []string{
	"all streams lead to kafka",
	"hello kafka streams",
	"join kafka summit",
	"",
	"'Twas brillig, and the slithy toves",
	"Did gyre and gimble in the wabe:",
	"All mimsy were the borogoves,",
	"And the mome raths outgrabe.",
	"",
	"\"Beware the Jabberwock, my son!",
	"The jaws that bite, the claws that catch!",
	"Beware the Jubjub bird, and shun",
	"The frumious Bandersnatch!\"",
	"",
	"He took his vorpal sword in hand;",
	"Long time the manxome foe he sought-",
	"So rested he by the Tumtum tree",
	"And stood awhile in thought.",
	"",
	"And, as in uffish thought he stood,",
	"The Jabberwock, with eyes of flame,",
	"Came whiffling through the tulgey wood,",
	"And burbled as it came!",
	"",
	"One, two! One, two! And through and through",
	"The vorpal blade went snicker-snack!",
	"He left it dead, and with its head",
	"He went galumphing back.",
	"",
	"\"And hast thou slain the Jabberwock?",
	"Come to my arms, my beamish boy!",
	"O frabjous day! Callooh! Callay!\"",
	"He chortled in his joy.",
	"",
	"'Twas brillig, and the slithy toves",
	"Did gyre and gimble in the wabe:",
	"All mimsy were the borogoves,",
	"And the mome raths outgrabe.",
}

// generate returns the built-in text repeat times, without its blank lines.
func generate(repeat int) []string {
	var out []string
	for range repeat {
		for _, l := range builtinText {
			if l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

// wordCount is a word and its count.
type wordCount struct {
	word  string
	count int64
}

// readCounts reads the output topic and keeps the latest count of each
// word: the table the change stream describes.
func readCounts(ctx context.Context, broker *exrun.Broker, topic string) ([]wordCount, error) {
	recs, err := broker.ReadAll(ctx, topic)
	if err != nil {
		return nil, err
	}
	latest := map[string]int64{}
	for _, r := range recs {
		if r.Value == nil {
			delete(latest, string(r.Key))
			continue
		}
		n, err := serde.Int64().Deserialize(topic, nil, r.Value)
		if err != nil {
			return nil, fmt.Errorf("output record for %q at offset %d: %w", r.Key, r.Offset, err)
		}
		latest[string(r.Key)] = n
	}
	out := make([]wordCount, 0, len(latest))
	for w, n := range latest {
		out = append(out, wordCount{w, n})
	}
	slices.SortFunc(out, func(a, b wordCount) int {
		return cmp.Or(cmp.Compare(b.count, a.count), cmp.Compare(a.word, b.word))
	})
	return out, nil
}

// printCounts prints the counts, most frequent first, in columns.
func printCounts(w io.Writer, counts []wordCount, top int) {
	var total int64
	width := 4
	for _, c := range counts {
		total += c.count
		width = max(width, len(c.word))
	}
	fmt.Fprintf(w, "\nfinal counts: %d distinct words, %d words in all\n", len(counts), total)
	if top > 0 && top < len(counts) {
		counts = counts[:top]
		fmt.Fprintf(w, "(the %d most frequent)\n", top)
	}
	fmt.Fprintf(w, "%-*s  %s\n", width, "word", "count")
	for _, c := range counts {
		fmt.Fprintf(w, "%-*s  %d\n", width, c.word, c.count)
	}
}
