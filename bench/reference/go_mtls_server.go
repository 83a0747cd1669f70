// Reference server for bench/mcp.ts: Go crypto/tls requiring and verifying a
// client certificate (TLS 1.2+), answering every request with a small JSON
// body. Built into a temporary directory by the bench, never committed.
//
// Usage: go_mtls_server CERT KEY CA   (listens on 127.0.0.1:0, prints the port,
// exits when stdin closes)
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
)

const body = `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ping"}]}}`

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: go_mtls_server CERT KEY CA")
	}
	pair, err := tls.LoadX509KeyPair(os.Args[1], os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	caPem, err := os.ReadFile(os.Args[3])
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPem) {
		log.Fatal("no CA certificate in ", os.Args[3])
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
		}),
		ErrorLog: log.New(io.Discard, "", 0),
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	log.Fatal(srv.Serve(tls.NewListener(ln, cfg)))
}
