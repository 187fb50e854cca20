/** A clock that moves only when the test moves it. */
export class FakeClock {
  constructor(private ms = Date.UTC(2024, 5, 10, 12, 0, 0)) {}

  readonly now = (): number => this.ms;

  advance(ms: number): void {
    this.ms += ms;
  }

  set(ms: number): void {
    this.ms = ms;
  }
}
