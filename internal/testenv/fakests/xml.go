package fakests

import (
	"encoding/xml"
	"net/http"
)

// The STS wire shapes: every answer is <XResponse xmlns=...><XResult>...</XResult><ResponseMetadata>
// <RequestId/></ResponseMetadata></XResponse>, every refusal <ErrorResponse><Error>...</Error><RequestId/>.

const stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"

type credentialsXML struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

type assumeRoleResult struct {
	XMLName         xml.Name `xml:"AssumeRoleResult"`
	AssumedRoleUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string
	}
	Credentials      credentialsXML
	PackedPolicySize int
}

type identityResult struct {
	XMLName xml.Name `xml:"GetCallerIdentityResult"`
	Arn     string
	UserID  string `xml:"UserId"`
	Account string
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type queryResponse struct {
	XMLName  xml.Name
	Xmlns    string `xml:"xmlns,attr"`
	Result   any
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type errorResponse struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	Xmlns   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string
		Code    string
		Message string
	}
	RequestID string `xml:"RequestId"`
}

func writeResult(w http.ResponseWriter, requestID, action string, result any) {
	writeXML(w, http.StatusOK, requestID, queryResponse{
		XMLName:  xml.Name{Local: action + "Response"},
		Xmlns:    stsNS,
		Result:   result,
		Metadata: responseMetadata{RequestID: requestID},
	})
}

func writeError(w http.ResponseWriter, requestID string, e *apiError) {
	var r errorResponse
	r.Xmlns = stsNS
	r.Error.Type = "Sender"
	if e.status >= 500 {
		r.Error.Type = "Receiver"
	}
	r.Error.Code, r.Error.Message = e.code, e.message
	r.RequestID = requestID
	writeXML(w, e.status, requestID, r)
}

func writeXML(w http.ResponseWriter, status int, requestID string, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}
