import { bootGuest } from "./src/testing/qemu-guest.ts";
import { collect, envdClients } from "./src/testing/target.ts";

const g = await bootGuest();
console.log("boot", g.bootToHealthMs);
const target = { baseUrl: g.envdUrl } as never;
const sh = async (s: string) => {
  const r = await collect(
    envdClients({ target, accessToken: "" }, { user: "root", token: null }).process.start({
      process: { cmd: "/bin/bash", args: ["-c", s] },
    }),
  );
  console.log(`$ ${s.slice(0, 200)}\n${r.stdout}${r.stderr}`);
};
const measure = `
for i in 1 2 3; do
  s=$(date +%s%N)
  /usr/local/bin/node /usr/local/lib/envd/envd.mjs --port 49991 --host 127.0.0.1 --no-clock-sync --port-scan-interval-ms 0 >/tmp/e.log 2>&1 &
  p=$!
  until (exec 3<>/dev/tcp/127.0.0.1/49991 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -c 12 <&3 | grep -q 204) 2>/dev/null; do sleep 0.01; done
  e=$(date +%s%N); echo "envd start-to-health $(( (e - s) / 1000000 )) ms; $(grep -o 'startupMs[^,]*' /tmp/e.log)"
  kill $p; wait $p 2>/dev/null
done
for i in 1 2; do s=$(date +%s%N); /usr/local/bin/node -e 0; e=$(date +%s%N); echo "node -e 0 $(( (e - s) / 1000000 )) ms"; done
`;
await sh(measure);
await g.stop();
