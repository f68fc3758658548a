#include <boost/json.hpp>

#include "api_internal.hpp"

// /session, /session/{start,next,end}: a member's programme session.
// /assessment, /assessment/{start,next,retry,end}: a member's strength assessment.

namespace soleus::hmi {
using namespace detail;

ApiResponse Api::Impl::session_call(const Route& r, const Session& s) {
  SessionAction a = SessionAction::Get;
  if (r.seg.size() == 2) {
    const json::object body = parse_body(r.req->body, true);
    Fields(body).finish();
    a = r.seg[1] == "start"  ? SessionAction::Start
        : r.seg[1] == "next" ? SessionAction::NextSet
                             : SessionAction::End;
  }
  return from_result(backend.session(*s.member_id, a));
}

ApiResponse Api::Impl::assessment_call(const Route& r, const Session& s) {
  AssessmentAction a = AssessmentAction::Get;
  if (r.seg.size() == 2) {
    const json::object body = parse_body(r.req->body, true);
    Fields(body).finish();
    a = r.seg[1] == "start"   ? AssessmentAction::Start
        : r.seg[1] == "next"  ? AssessmentAction::Next
        : r.seg[1] == "retry" ? AssessmentAction::Retry
                              : AssessmentAction::End;
  }
  return from_result(backend.assessment(*s.member_id, a));
}

}  // namespace soleus::hmi
