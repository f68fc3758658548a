#pragma once
/// The JSON API of /api/v1 as a plain function from request to response, with
/// no networking in it: the server (server.hpp) reads requests off the wire
/// and calls Api::handle(). Every check happens here, in this order: route
/// (404), method (405), Origin of a state-changing request (403), token (401),
/// role (403), body (400 malformed or wrong type, 422 out of range), and only
/// then the backend (404, 409, 422 from what the machine alone can judge).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "soleus/hmi/backend.hpp"
#include "soleus/hmi/config.hpp"
#include "soleus/hmi/security.hpp"

namespace soleus::hmi {

/// What the API needs of an HTTP request.
struct ApiRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< path and query, e.g. "/api/v1/events?limit=10"
  std::string body;
  std::optional<std::string> authorization;  ///< the Authorization header, if any
  std::optional<std::string> origin;         ///< the Origin header, if any
  std::string
      client;  ///< the peer's address ("" when unknown): failed logins are rate-limited per client
};

struct ApiResponse {
  unsigned status = 200;
  std::string body;          ///< JSON (unless content_type says)
  std::string content_type;  ///< empty: application/json; charset=utf-8
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers (Allow, Retry-After)
};

// write_json(), the one serializer of every reply, is in views.hpp.

/// {"error":{"field":…,"message":…}}; an empty field is written as null.
ApiResponse error_response(unsigned status, const std::string& field, const std::string& message);

/// A request body the API refuses: its status (400, 422) and error fields.
struct RequestError {
  unsigned status = 400;
  std::string field;
  std::string message;
};

/// Parses and validates a body of POST /api/v1/sets (every rule but the
/// caller's role): the one validator of set requests, also used by
/// `soleusd --run-set`. nullopt, with `error` filled, when refused.
std::optional<SetRequest> parse_set_request(const std::string& body, double max_load_n,
                                            RequestError& error);

class Api {
 public:
  /// `allowed_origins` is the final list (the server fills in its own address).
  Api(const HmiConfig& config, Backend& backend, std::vector<std::string> allowed_origins,
      std::function<Clock::time_point()> clock);
  ~Api();

  /// Handles one request. Never throws; every failure is a 4xx/5xx response.
  ApiResponse handle(const ApiRequest& request);

  /// True for requests that never block (stop, status): the server answers
  /// them on its network thread instead of queueing them behind slow ones.
  static bool is_immediate(const ApiRequest& request);
  /// No Origin (a non-browser client), or one of the allowed origins.
  bool origin_allowed(const std::optional<std::string>& origin) const;
  const std::vector<std::string>& allowed_origins() const { return allowed_origins_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> allowed_origins_;
};

}  // namespace soleus::hmi
