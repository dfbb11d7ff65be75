module github.com/fieldservice/customer-service

go 1.26.8

require (
	github.com/google/uuid v1.6.0
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.45.0 // indirect
