-- Events for the deduplication benchmark, as JSON lines: {"id": i % DISTINCT, "seq": i}.
-- usage: luajit gen_dedup_events.lua EVENTS DISTINCT OUTDIR [FILES]
-- seq doubles as the event time in ms (1970 + seq ms) for the drop_duplicates_within_watermark run.
local usage = "usage: gen_dedup_events.lua EVENTS DISTINCT OUTDIR [FILES]"
local n = assert(tonumber(arg[1]), usage)
local distinct = assert(tonumber(arg[2]), usage)
local outdir = assert(arg[3], usage)
local files = tonumber(arg[4]) or 10
os.execute("mkdir -p '" .. outdir .. "'")
local per_file = math.ceil(n / files)
local i = 0
for f = 1, files do
  local fh = assert(io.open(string.format("%s/events-%04d.json", outdir, f), "w"))
  local buf, nb = {}, 0
  for _ = 1, per_file do
    if i >= n then break end
    nb = nb + 1
    buf[nb] = string.format('{"id":%d,"seq":%d}\n', i % distinct, i)
    if nb == 10000 then
      fh:write(table.concat(buf, "", 1, nb))
      nb = 0
    end
    i = i + 1
  end
  fh:write(table.concat(buf, "", 1, nb))
  fh:close()
end
