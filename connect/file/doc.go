// Package file is the file sink connector: records as JSON lines in local
// files, rolled by size or time.
//
// It may import connect; not stream or runtime.
package file
