package fakeaws

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

const (
	region  = "eu-west-1"
	account = "123456789012"
	userKey = "AKIAFAKEUSER0001"
	userSec = "user/secret+key"
)

// signed makes a request signed by the SDK's own signer.
func signed(t *testing.T, url, service, body, secret string, mutate func(*http.Request)) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: userKey, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(req)
	}
	return req
}

func status(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestVerifyAgreesWithTheSDKSigner checks the independent verifier against
// the SDK's signer, and that it refuses what it must.
func TestVerifyAgreesWithTheSDKSigner(t *testing.T) {
	acct := New(account, region)
	acct.AddUser("gw", userKey, userSec)
	acct.AddRole("r", Role{ExternalID: "x-1"})
	srv := acct.Serve()
	defer srv.Close()
	form := "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=s1&ExternalId=x-1"
	cases := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"good", signed(t, srv.STS.URL+"/", "sts", form, userSec, nil), 200},
		{"wrong secret", signed(t, srv.STS.URL+"/", "sts", form, "not-the-secret", nil), 403},
		{"wrong service", signed(t, srv.STS.URL+"/", "lambda", form, userSec, nil), 403},
		{"tampered body", signed(t, srv.STS.URL+"/", "sts", form, userSec, func(r *http.Request) {
			tampered := strings.Replace(form, "x-1", "x-2", 1)
			r.Body = io.NopCloser(strings.NewReader(tampered))
		}), 403},
		{"tampered signed header", signed(t, srv.STS.URL+"/", "sts", form, userSec, func(r *http.Request) {
			r.Header.Set("Content-Type", "text/plain")
		}), 403},
		{"old date", signed(t, srv.STS.URL+"/", "sts", form, userSec, func(r *http.Request) {
			r.Header.Set("X-Amz-Date", time.Now().Add(-time.Hour).UTC().Format(amzDate))
		}), 403},
	}
	for _, tc := range cases {
		got, body := status(t, tc.req)
		if got != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, got, tc.status, body)
		}
	}
}

func TestCanonicalURIEscapesTwice(t *testing.T) {
	r, _ := http.NewRequest(http.MethodPost, "http://h/2015-03-31/functions/arn%3Aaws%3Alambda%3Ax/invocations?Qualifier=a+b", nil)
	r.RequestURI = "/2015-03-31/functions/arn%3Aaws%3Alambda%3Ax/invocations?Qualifier=a+b"
	got := CanonicalRequest(r, nil, []string{"host"})
	want := "POST\n/2015-03-31/functions/arn%253Aaws%253Alambda%253Ax/invocations\nQualifier=a%20b\nhost:h\n\nhost\n" + hexSHA256(nil)
	if got != want {
		t.Errorf("canonical request\n%q\nwant\n%q", got, want)
	}
}

func sdkConfig(key, secret, token string) aws.Config {
	return aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(key, secret, token),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }}
}

// TestSDKAgainstTheFakes drives the fakes with the real SDK clients: the
// external ID condition, the issued session and an ARN in the path.
func TestSDKAgainstTheFakes(t *testing.T) {
	acct := New(account, region)
	gw := acct.AddUser("gw", userKey, userSec)
	roleARN := acct.AddRole("invoker", Role{TrustedARNs: []string{gw.ARN}, ExternalID: "org-1"})
	acct.AddFunction("echo", Function{Callers: []string{roleARN}})
	srv := acct.Serve()
	defer srv.Close()
	ctx := context.Background()
	stsc := sts.NewFromConfig(sdkConfig(userKey, userSec, ""), func(o *sts.Options) { o.BaseEndpoint = aws.String(srv.STS.URL) })

	_, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("org-2")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
		t.Fatalf("wrong external ID: want AccessDenied, got %v", err)
	}
	out, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("s1"), ExternalId: aws.String("org-1")})
	if err != nil {
		t.Fatalf("assume role: %v (rejections %v)", err, acct.Rejections())
	}
	c := out.Credentials
	if !acct.Issued(aws.ToString(c.SessionToken)) || time.Until(aws.ToTime(c.Expiration)) < 50*time.Minute {
		t.Fatalf("credentials not as issued: %+v", c)
	}
	lam := lambda.NewFromConfig(sdkConfig(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken),
		func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.Lambda.URL) })
	res, err := lam.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(acct.FunctionARN("echo")), Payload: []byte(`{"a":1}`)})
	if err != nil {
		t.Fatalf("invoke by ARN: %v (rejections %v)", err, acct.Rejections())
	}
	if !bytes.Equal(res.Payload, []byte(`{"a":1}`)) {
		t.Errorf("echo answered %s", res.Payload)
	}
	inv := acct.Invocations()
	if len(inv) != 1 || inv[0].Caller.SessionToken != *c.SessionToken || inv[0].Function != "echo" {
		t.Errorf("invocation not recorded as the assumed role: %+v", inv)
	}

	// The user's own key is not allowed to invoke.
	direct := lambda.NewFromConfig(sdkConfig(userKey, userSec, ""), func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.Lambda.URL) })
	_, err = direct.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo")})
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" {
		t.Errorf("user key: want AccessDeniedException, got %v", err)
	}
	// A forged session token is refused.
	forged := lambda.NewFromConfig(sdkConfig(*c.AccessKeyId, *c.SecretAccessKey, "forged"), func(o *lambda.Options) { o.BaseEndpoint = aws.String(srv.Lambda.URL) })
	_, err = forged.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("echo")})
	if !errors.As(err, &api) || api.ErrorCode() != "UnrecognizedClientException" {
		t.Errorf("forged token: want UnrecognizedClientException, got %v", err)
	}
}
