module github.com/gitops-runner/runner/apps/backend

go 1.26
