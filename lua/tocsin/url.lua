-- tocsin.url: URL helpers for runbooks.
--   url.encode(s)  percent-encodes everything but unreserved characters (RFC 3986 2.3), for a
--                  query value such as a PromQL expression
local M = {}

function M.encode(s)
  return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

return M
