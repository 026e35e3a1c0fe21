package moto_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/gitops-runner/runner/internal/testenv/moto"
)

func TestServerAnswersTheRealSDK(t *testing.T) {
	srv := moto.Start(t)
	ctx := t.Context()
	id, err := sts.NewFromConfig(srv.Config()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(id.Account); got != moto.AccountID {
		t.Errorf("account %q, want %q", got, moto.AccountID)
	}

	repos := ecr.NewFromConfig(srv.Config())
	if _, err := repos.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = repos.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"app"}})
	var nf *ecrtypes.RepositoryNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("after Reset: %v, want RepositoryNotFoundException", err)
	}
}

func TestStartSkipsWithoutMotoServer(t *testing.T) {
	t.Setenv("MOTO_SERVER", "/nonexistent/moto_server")
	var skipped bool
	t.Run("start", func(t *testing.T) {
		t.Cleanup(func() { skipped = t.Skipped() })
		moto.Start(t)
		t.Error("Start returned without moto_server")
	})
	if !skipped {
		t.Error("Start did not skip the test")
	}
}
