-- ISO-8601 UTC text as the sinks write it ("2026-11-23T10:00:00.001Z", or with a space for the
-- T) to epoch milliseconds; a number is returned as it is (the baselines write ms). For the
-- tests' reference computations: dofile(SR_SOURCE_DIR .. "/tests/e2e/iso_ms.lua").
return function(v)
  if type(v) == "number" then return v end
  local y, mo, d, h, mi, se, frac = v:match("^(%d+)-(%d+)-(%d+)[T ](%d+):(%d+):(%d+)%.?(%d*)Z?$")
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1; mo = mo + 12 end
  local days = 365 * y + math.floor(y / 4) - math.floor(y / 100) + math.floor(y / 400)
               + math.floor((153 * (mo - 3) + 2) / 5) + d - 719469
  return ((days * 24 + tonumber(h)) * 60 + tonumber(mi)) * 60000 + tonumber(se) * 1000
         + (tonumber(frac) or 0)
end
