/** Reading a gateway's /metrics (Prometheus text) as a test does. */

/**
 * The value of one series of the /metrics of the gateway at `url`: its name with its labels as
 * the text shows them (`pgauth_purged_total{kind="sessions"}`), or the name alone when it has
 * none; undefined when the series is not there.
 */
export async function metric(url: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
